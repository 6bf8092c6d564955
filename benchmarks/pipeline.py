"""The whole pipeline from an empty run folder (installation excluded): wall time, stage times summed from
Snakemake's benchmark files, and the wall time in a machine-independent unit measured in the same run: one
whisper-base encoder forward pass (a 30 s window) on one thread.

    .venv/bin/python benchmarks/pipeline.py [--cores 2] [--configfile X]

The config runs under its own fresh name, `<run>-bench-<time>`, with its encoder cache inside that run's folder,
so that no state of an earlier run (its outputs or cached encoder states) shortens the measurement, and nothing of
another run is touched. Converted models in resources/ are shared: the stages show whether this run built them.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml
from common import ROOT, teacher_dir

from udistil.plan.layout import run_name


def encoder_pass_seconds(repeats: int = 5) -> float:
    """Median seconds of one whisper-base encoder forward pass on a 30 s window, on one thread."""
    import statistics

    import torch
    from transformers import WhisperForConditionalGeneration

    torch.set_num_threads(1)
    encoder = WhisperForConditionalGeneration.from_pretrained(teacher_dir()).get_encoder().eval()
    features = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        encoder(features)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            encoder(features)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", default="2")
    ap.add_argument("--configfile", default=str(ROOT / "config.yaml"))
    args = ap.parse_args()
    import pandas as pd

    cfg = yaml.safe_load(Path(args.configfile).read_text()) or {}
    run = f"{run_name(cfg, [args.configfile])}-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg["run"] = run
    cfg["encoder_cache"] = {**cfg.get("encoder_cache", {}), "dir": f"results/{run}/cache/encoder"}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    print(f"run {run}: outputs under results/{run}/")
    unit_before = encoder_pass_seconds()  # the machine's speed drifts: measured before and after the run
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", args.cores, "--configfile", f.name],
                   cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    Path(f.name).unlink()
    stages: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    benchmarks = ROOT / "results" / run / "benchmarks"
    for tsv in benchmarks.rglob("*.tsv"):
        stage = tsv.relative_to(benchmarks).parts[0]
        stages[stage] += float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
        counts[stage] += 1
    unit_after = encoder_pass_seconds()
    unit = (unit_before + unit_after) / 2
    print(f"whole pipeline ({args.configfile}), {args.cores} cores: {wall / 60:.1f} min wall")
    print(f"  = {wall / unit:.0f} whisper-base encoder passes (one pass on one thread: {unit:.3f} s, the mean of "
          f"{unit_before:.3f} s before and {unit_after:.3f} s after the run)")
    print("job seconds per stage (summed over its jobs; jobs run in parallel):")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:14s} {counts[stage]:3d} jobs {seconds:8.1f} s")
    print(f"  sum of benchmarked jobs {sum(stages.values()):.0f} s; wall / sum = {wall / sum(stages.values()):.2f}")


if __name__ == "__main__":
    main()
