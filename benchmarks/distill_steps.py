"""Distillation steps per second with and without encoder reuse, default student (6-3 of whisper-base, frozen
shared encoder), same data, same seed, one run. Also checks that both give the same loss curve.

    .venv/bin/python benchmarks/distill_steps.py [--steps 10] [--batch-size 8] [--threads 2]
"""

import tempfile
from pathlib import Path

from common import parse_args, synthetic_clips, teacher_dir


def main() -> None:
    args = parse_args(__doc__, steps=10, batch_size=8, clips=32)

    import pandas as pd

    from udistil.distill import TrainConfig, distill
    from udistil.manifest import Record, build_manifest
    from udistil.student import init_student

    teacher = teacher_dir()
    work = Path(tempfile.mkdtemp(prefix="udistil-bench-"))
    clips = synthetic_clips(args.clips)
    build_manifest([Record(id=f"c{i}", source=a, text=t) for i, (a, t) in enumerate(clips)], "bench", "train",
                   work / "audio", work / "m.parquet", work / "r.tsv")
    pd.DataFrame({"id": [f"c{i}" for i in range(len(clips))], "pseudo_label": [t for _, t in clips]}) \
        .to_parquet(work / "subset.parquet")
    init_student(teacher, 6, 3, work / "init")
    times: dict[str, float] = {}
    curves = {}
    # the cache is filled once beforehand, as pseudo-labelling fills it in the pipeline
    for label, mode in (("warm cache", "on"), ("with reuse", "on"), ("without reuse", "off")):
        out = work / label.replace(" ", "_")
        cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch_size, warmup_steps=0, save_steps=10**6,
                          device="cpu", seed=1, cache={"mode": mode, "dir": str(work / "cache")})
        run = distill(teacher, str(work / "init"), work / "subset.parquet", work / "m.parquet", cfg,
                      out / "model", out / "loss.csv", out / "run.json", out / "ckpt")
        times[label] = run["train_seconds_this_run"]  # the training loop only, not model loading
        curves[label] = pd.read_csv(out / "loss.csv")
    print(f"{args.steps} steps, batch {args.batch_size}, student 6-3 of whisper-base, {args.threads} threads")
    for label in ("with reuse", "without reuse"):
        print(f"  {label:14s} {times[label]:7.1f} s  {args.steps / times[label]:.3f} steps/s")
    print(f"  speed-up from encoder reuse: {times['without reuse'] / times['with reuse']:.2f}x")
    diff = (curves["with reuse"]["loss"] - curves["without reuse"]["loss"]).abs().max()
    print(f"  largest loss difference between the two curves: {diff:.2e}")


if __name__ == "__main__":
    main()
