"""Distillation in N processes: torchrun starts N copies of `udistil.distill.worker`, each running `distill` on
its share of the global batch (one GPU each with device cuda; gloo on a CPU). One process runs in the caller.

    python -m torch.distributed.run --standalone --nproc-per-node N -m udistil.distill.worker run.json

This module imports no torch: the job that launches N processes only writes their spec and waits, and so does
not spend seconds importing the training code (on a 2-core machine, the toy paper run's 22 distillation jobs
each waited about 5 s for it while the cores were free)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from udistil.common.determinism import CUBLAS_WORKSPACE
from udistil.common.logs import set_threads
from udistil.common.processes import python_env
from udistil.distill.settings import TrainConfig, ValidationConfig

log = logging.getLogger(__name__)
PATHS = ("teacher", "student_init", "subset", "manifest", "out_model", "out_curve", "out_run", "out_validation",
         "checkpoint_dir", "validation_manifest")


def launch_command(*, processes: int, module: str, args: list[str]) -> list[str]:
    """torchrun (as `python -m torch.distributed.run`, so it is this interpreter's) starting `processes` copies of
    `module` on this machine, on a free rendezvous port."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            "-m", module, *args]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
"""Thread counts of the math libraries, which Snakemake sets to the job's `threads` for the job's process."""


def launch_env(cfg: TrainConfig, threads: int) -> dict[str, str]:
    """The workers' environment: this one, with the cuBLAS workspace set before cuBLAS starts when deterministic,
    and the job's `threads` shared among the workers (torchrun would set OpenMP's to 1 each). Every library's
    thread count is the worker's share, not only OpenMP's: torch's CPU kernels also run MKL's threads, and the
    job's MKL_NUM_THREADS (Snakemake's `threads`) in each worker oversubscribed the cores (two toy-paper workers
    on 2 cores: 4.8 s a step instead of 0.8)."""
    env = python_env()  # the workers import this udistil, installed in the job's environment or not
    if cfg.deterministic:
        env.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    share = str(max(1, int(threads) // cfg.num_processes))
    env.update(dict.fromkeys(THREAD_VARIABLES, share))
    return env


def to_spec(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`distill`'s keyword arguments as JSON: paths as strings, settings as dicts."""
    spec = {k: (str(v) if k in PATHS and v is not None else v) for k, v in kwargs.items()}
    spec["cfg"] = asdict(kwargs["cfg"])
    spec["validation"] = asdict(kwargs["validation"]) if kwargs.get("validation") else None
    return spec


def from_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`distill`'s keyword arguments back from `to_spec`."""
    val = spec.get("validation")
    return {**spec, "cfg": TrainConfig.from_dict(spec["cfg"]), "validation": ValidationConfig(**val) if val else None}


def distill_processes(*, threads: int, **kwargs: Any) -> dict[str, Any]:
    """`distill` with `kwargs` on `threads` CPU threads, in `cfg.num_processes` processes: in this one when it is
    1; otherwise under torchrun, whose output goes to this process's stderr (the job's log). Returns the main
    process's run record (or `{"stopped_at": step}` after `stop_after`)."""
    cfg: TrainConfig = kwargs["cfg"]
    if cfg.num_processes == 1:
        from udistil.distill.train import distill  # here: the launcher of N processes needs no torch

        set_threads(threads)
        return distill(**kwargs)
    with tempfile.TemporaryDirectory(prefix="udistil-launch-") as tmp:
        spec, result = Path(tmp) / "run.json", Path(tmp) / "result.json"
        spec.write_text(json.dumps({"kwargs": to_spec(kwargs), "result": str(result)}))
        cmd = launch_command(processes=cfg.num_processes, module="udistil.distill.worker", args=[str(spec)])
        log.info("distillation in %d processes: %s", cfg.num_processes, " ".join(cmd))
        sys.stderr.flush()
        done = subprocess.run(cmd, env=launch_env(cfg, threads), stdout=sys.stderr, stderr=sys.stderr, check=False)
        if done.returncode:
            raise RuntimeError(f"distillation in {cfg.num_processes} processes failed (exit {done.returncode}); "
                               "each process's error is in the log above")
        return json.loads(result.read_text())
