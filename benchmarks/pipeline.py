"""The whole pipeline from an empty results/ (assets included, installation excluded): wall time, stage times
summed from Snakemake's benchmark files, and the wall time in a machine-independent unit measured in the same
run: one whisper-base encoder forward pass (a 30 s window) on one thread.

    .venv/bin/python benchmarks/pipeline.py [--cores 2] [--configfile X]   # moves results/ and resources/ aside
"""

import argparse
import shutil
import subprocess
import sys
import time
from collections import defaultdict

from common import ROOT, teacher_dir


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

    stamp = time.strftime("%Y%m%d-%H%M%S")
    for folder in ("results", "resources"):
        if (ROOT / folder).exists():
            shutil.move(ROOT / folder, ROOT / f"{folder}.before-bench-{stamp}")
            print(f"moved {folder}/ to {folder}.before-bench-{stamp}/")
    unit_before = encoder_pass_seconds()  # the machine's speed drifts: measured before and after the run
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", args.cores, "--configfile", args.configfile],
                   cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    stages: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for tsv in (ROOT / "results" / "benchmarks").rglob("*.tsv"):
        stage = tsv.relative_to(ROOT / "results" / "benchmarks").parts[0]
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
