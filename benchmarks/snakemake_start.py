"""How long `snakemake` takes to start, and how much of it is the slurm executor plugin's probe. When imported, the
plugin runs `scontrol show config` (10 s timeout) to word a help text; on a machine with Slurm's tools but no
controller that answers, scontrol retries until the timeout, and every `snakemake` start (each test that runs the
workflow, each run's report job) waits for it. Side by side in one run: `snakemake --version` and the probe itself,
with Slurm as found; with --toggle (root and Debian's slurm-wlm, through `.ci/slurm.sh`), with the single-node
controller stopped and running, leaving it as found.

    .venv/bin/python benchmarks/snakemake_start.py [--repeats 3] [--toggle]
"""

import argparse
import shutil
import subprocess
import sys

from common import ROOT, command_seconds
from pipeline import encoder_pass_seconds

SLURM = ROOT / ".ci" / "slurm.sh"


def controller_running() -> bool:
    return subprocess.run(["bash", str(SLURM), "running"], capture_output=True).returncode == 0


def measure(label: str, repeats: int) -> tuple[str, float, float | None]:
    start = command_seconds([sys.executable, "-m", "snakemake", "--version"], repeats)
    probe = command_seconds(["scontrol", "show", "config"], repeats, check=False) if shutil.which("scontrol") else None
    return label, start, probe


def set_controller(running: bool) -> None:
    subprocess.run(["bash", str(SLURM), "start" if running else "stop"], capture_output=True, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--toggle", action="store_true", help="also measure with the controller stopped and running")
    args = ap.parse_args()
    unit = encoder_pass_seconds()
    found = controller_running()
    rows = [measure(f"as found (controller {'running' if found else 'not running'})", args.repeats)]
    if args.toggle:
        try:
            for running in (False, True):
                set_controller(running)
                rows.append(measure(f"controller {'running' if running else 'stopped'}", args.repeats))
        finally:
            set_controller(found)
    print(f"median of {args.repeats}; one whisper-base encoder pass: {unit:.3f} s")
    for label, start, probe in rows:
        probe_text = "no scontrol on PATH" if probe is None else f"scontrol show config {probe:5.2f} s"
        print(f"  {label:34s} snakemake --version {start:5.2f} s = {start / unit:5.1f} passes; {probe_text}")
    if args.toggle:
        stopped, running = rows[-2][1], rows[-1][1]
        print(f"snakemake start, controller stopped / running: {stopped / running:.1f}x")


if __name__ == "__main__":
    main()
