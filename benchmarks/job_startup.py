"""What the paper's DAG pays before any work: each job starts a fresh interpreter that imports its script's
modules (Snakemake runs a `script:` in its own Python process), and a distillation job with N > 1 processes also
starts torchrun and N workers (`udistil.distill.worker`). Measured per rule, times the rule's job count in the
DAG of configs/paper.yaml (the toy paper run has the same jobs), and summed: the part of the toy run's time that
no toy size can shrink. Side by side: the distillation job's own imports (the launcher, `udistil.distill.launch`)
against a worker's, which the job itself imported before it stopped importing the training code.

    .venv/bin/python benchmarks/job_startup.py [--repeats 3] [--cores 2]
"""

import argparse
import ast
import re
import subprocess
import sys
import tempfile

from common import ROOT, command_seconds
from pipeline import encoder_pass_seconds

from tests.helpers import job_counts
from tests.toy import PROCESSES

PREAMBLE = "import snakemake.script"  # what Snakemake's script preamble imports before the script runs


def dry_run_jobs(config: str) -> dict[str, int]:
    """Rule -> jobs (and `total`) in the dry run of `config` in an empty folder."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-d", tmp, "--configfile", config],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return job_counts(out)


def rule_scripts() -> dict[str, str]:
    """Rule -> its workflow script, `use rule A as B` included (rules with `shell:` or no script are left out)."""
    out, aliases = {}, []
    for path in sorted((ROOT / "rules").glob("*.smk")):
        text = path.read_text()
        for m in re.finditer(r"^rule (\w+):.*?(?=^rule |^use rule |\Z)", text, re.M | re.S):
            script = re.search(r'script:\s*"\.\./(workflow/scripts/\w+\.py)"', m[0])
            if script:
                out[m[1]] = script[1]
        aliases += re.findall(r"^use rule (\w+) as (\w+)", text, re.M)
    out.update({alias: out[rule] for rule, alias in aliases if rule in out})
    return out


def top_imports(script: str) -> str:
    """The import statements at the top level of `script`, as code."""
    source = (ROOT / script).read_text()
    return "\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body
                     if isinstance(node, ast.Import | ast.ImportFrom))


def seconds(code: str, repeats: int) -> float:
    """Median wall seconds of a fresh interpreter running `code`."""
    return command_seconds([sys.executable, "-c", code], repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    unit_before = encoder_pass_seconds()
    counts, scripts = dry_run_jobs("configs/paper.yaml"), rule_scripts()  # `total` has no script: left out below
    rows = []
    for rule, jobs in counts.items():
        if rule not in scripts:
            continue
        cpu = wall = seconds(f"{PREAMBLE}\n{top_imports(scripts[rule])}", args.repeats)
        if rule == "distill":
            launcher = wall
            torchrun = seconds("import torch.distributed.run", args.repeats)
            worker = seconds("import udistil.distill.worker", args.repeats)
            wall += torchrun + worker * PROCESSES / min(PROCESSES, args.cores)
            cpu += torchrun + worker * PROCESSES
        rows.append((rule, jobs, wall, cpu))
    unit = (unit_before + encoder_pass_seconds()) / 2
    print(f"start-up per job (a fresh interpreter importing the job's modules; median of {args.repeats}), "
          "times the paper DAG's jobs:")
    for rule, jobs, _, cpu in sorted(rows, key=lambda r: -r[1] * r[3]):
        print(f"  {rule:22s} {jobs:3d} jobs x {cpu:5.2f} s = {jobs * cpu:6.1f} core-s")
    total = sum(jobs * cpu for _, jobs, _, cpu in rows)
    serial = sum(jobs * wall for rule, jobs, wall, _ in rows if rule == "distill")  # distill holds every core
    floor = serial + (total - sum(jobs * cpu for rule, jobs, _, cpu in rows if rule == "distill")) / args.cores
    print(f"  {sum(j for _, j, _, _ in rows)} jobs: {total:.0f} core-s; on {args.cores} cores at least "
          f"{floor / 60:.1f} min = {floor / unit:.0f} whisper-base encoder passes (one pass: {unit:.3f} s)")
    print(f"distillation job's own imports: launcher {launcher:.2f} s, a worker's {worker:.2f} s "
          f"(worker / launcher: {worker / launcher:.1f}x); torchrun {torchrun:.2f} s")


if __name__ == "__main__":
    main()
