"""The whole default pipeline from an empty results/ (assets included, installation excluded): wall time, and
stage times summed from Snakemake's benchmark files.

    .venv/bin/python benchmarks/pipeline.py [--cores 2] [--keep]   # moves results/ and resources/ aside first
"""

import argparse
import shutil
import subprocess
import sys
import time
from collections import defaultdict

from common import ROOT


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
    print(f"whole default pipeline, {args.cores} cores: {wall / 60:.1f} min wall")
    print("job seconds per stage (summed over its jobs; jobs run in parallel):")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:14s} {counts[stage]:3d} jobs {seconds:8.1f} s")
    print(f"  sum of benchmarked jobs {sum(stages.values()):.0f} s; wall / sum = {wall / sum(stages.values()):.2f}")


if __name__ == "__main__":
    main()
