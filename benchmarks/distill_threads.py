"""A 2-process distillation (gloo) side by side: each worker with its share of the job's threads in every math
library (what `udistil.distill.launch.launch_env` gives now) against the workers inheriting the job's own
MKL/BLAS thread counts (what they did before: only OpenMP's was shared). The job's environment is set as
Snakemake sets it for a rule with `threads: N`. The model is the toy paper run's: a 32-16 student of the toy
teacher (32+32 layers of width 16, tests.toy) at the paper's training settings, on synthetic clips.

    .venv/bin/python benchmarks/distill_threads.py [--clips 22] [--threads 2]
"""

import os
import tempfile
import time
from pathlib import Path

from common import parse_args, training_set


def main() -> None:
    args = parse_args(__doc__, clips=22)

    from tests.toy import PAPER, PROCESSES, paper_config, toy_models
    from udistil.config.validate import filled
    from udistil.distill import TrainConfig
    from udistil.distill import launch as launch_module
    from udistil.distill.student import init_student
    from udistil.models.specs import materialise
    from udistil.plan.settings import training as training_config

    for var in launch_module.THREAD_VARIABLES:  # as Snakemake sets them for the job's process
        os.environ[var] = str(args.threads)
    paper = paper_config()
    work = Path(tempfile.mkdtemp(prefix="udistil-bench-"))
    teacher = work / "teacher"
    materialise(spec=toy_models(paper)[paper["teacher"]], out_dir=teacher)
    init_student(teacher=str(teacher), encoder_layers=32, decoder_layers=16, out_dir=work / "init")
    manifest, subset = training_set(work, args.clips)
    cfg = filled(PAPER)
    training = {**training_config(cfg, seed=1), "num_processes": PROCESSES, "precision": "fp32", "device": "cpu",
                "cache": {**cfg["encoder_cache"], "mode": "on", "dir": str(work / "cache")}}

    shared = launch_module.launch_env

    def inherited(train_cfg, threads):
        """The workers' environment before: OpenMP's threads shared, every other library's the job's."""
        return {**shared(train_cfg, threads), **{v: os.environ[v] for v in launch_module.THREAD_VARIABLES[1:]}}

    times, steps = {}, {}
    for label, env in (("warm cache", shared), ("shared", shared), ("inherited", inherited), ("shared again", shared)):
        launch_module.launch_env = env
        out = work / label.replace(" ", "_")
        start = time.perf_counter()
        run = launch_module.distill_processes(
            threads=args.threads, teacher=str(teacher), student_init=str(work / "init"), subset=subset,
            manifest=manifest, cfg=TrainConfig.from_dict(training), out_model=out / "model",
            out_curve=out / "loss.csv", out_run=out / "run.json", out_validation=out / "validation.csv",
            checkpoint_dir=out / "ckpt")
        times[label] = (time.perf_counter() - start, run["train_seconds_this_run"])
        steps[label] = run["steps"]
    launch_module.launch_env = shared
    print(f"{PROCESSES} gloo processes, a job of {args.threads} threads, toy 32-16 student, {args.clips} clips, "
          f"{steps['shared']} steps (10 epochs, global batch 128)")
    for label in ("shared", "inherited", "shared again"):
        wall, train = times[label]
        print(f"  {label:13s} job {wall:6.1f} s   training loop {train:6.1f} s  ({train / steps[label]:.2f} s a step)")
    base = (times["shared"][1] + times["shared again"][1]) / 2
    print(f"  training loop, inherited / shared: {times['inherited'][1] / base:.2f}x")


if __name__ == "__main__":
    main()
