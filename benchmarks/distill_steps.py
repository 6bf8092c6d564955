"""Distillation steps per second with and without reuse, default student (6-3 of whisper-base, frozen shared
encoder) and the default's training settings (config.yaml), same data, same seed, one run. "With reuse" reads the
encoder states and the teacher's targets that an earlier job stored (as pseudo-labelling and the first student
do in the pipeline); "without" recomputes both every step. Also checks that both give the same loss curve.

    .venv/bin/python benchmarks/distill_steps.py [--steps 10] [--batch-size 8] [--threads 2]
"""

import tempfile
from pathlib import Path

from common import demo_config, parse_args, teacher_dir, training_set


def main() -> None:
    args = parse_args(__doc__, steps=10, batch_size=8, clips=32)

    import pandas as pd

    from udistil.distill import TrainConfig
    from udistil.distill.student import init_student
    from udistil.distill.train import distill
    from udistil.plan.settings import training as training_config

    teacher = teacher_dir()
    work = Path(tempfile.mkdtemp(prefix="udistil-bench-"))
    manifest, subset = training_set(work, args.clips)
    init_student(teacher=teacher, encoder_layers=6, decoder_layers=3, out_dir=work / "init")
    demo = demo_config()
    times: dict[str, float] = {}
    curves = {}
    # the cache is filled once beforehand, as pseudo-labelling fills it in the pipeline
    runs = {"warm cache": {"mode": "on"}, "with reuse": {"mode": "on"},
            "encoder reuse only": {"mode": "on", "teacher_targets": False}, "without reuse": {"mode": "off"}}
    for label, cache in runs.items():
        out = work / label.replace(" ", "_")
        cfg = TrainConfig.from_dict({**training_config(demo, seed=1), "max_steps": args.steps,
                                     "batch_size": args.batch_size, "warmup_steps": 0, "save_steps": 10**6,
                                     "precision": "fp32", "device": "cpu",
                                     "cache": {**demo["encoder_cache"], **cache, "dir": str(work / "cache")}})
        run = distill(teacher=teacher, student_init=str(work / "init"), subset=subset,
                      manifest=manifest, cfg=cfg, out_model=out / "model", out_curve=out / "loss.csv",
                      out_run=out / "run.json", out_validation=out / "validation.csv",
                      checkpoint_dir=out / "ckpt")
        times[label] = run["train_seconds_this_run"]  # the training loop only, not model loading
        curves[label] = pd.read_csv(out / "loss.csv")
    print(f"{args.steps} steps, batch {args.batch_size}, student 6-3 of whisper-base, {args.threads} threads")
    for label in ("with reuse", "encoder reuse only", "without reuse"):
        print(f"  {label:18s} {times[label]:7.1f} s  {args.steps / times[label]:.3f} steps/s")
    print(f"  speed-up from reuse (encoder states + teacher targets): "
          f"{times['without reuse'] / times['with reuse']:.2f}x")
    print(f"  speed-up from encoder reuse alone: {times['without reuse'] / times['encoder reuse only']:.2f}x")
    for label in ("encoder reuse only", "without reuse"):
        diff = (curves["with reuse"]["loss"] - curves[label]["loss"]).abs().max()
        print(f"  largest loss difference, with reuse vs {label}: {diff:.2e}")


if __name__ == "__main__":
    main()
