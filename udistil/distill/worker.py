"""One process of a launched distillation (`udistil.distill.launch`): torchrun starts N of these, each running
`distill` on the spec the launcher wrote; the main process (rank 0) writes the run record beside it.

    python -m torch.distributed.run --standalone --nproc-per-node N -m udistil.distill.worker run.json
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from accelerate import PartialState

from udistil.distill.launch import from_spec
from udistil.distill.train import distill


def run_spec(path: str | Path) -> dict[str, Any]:
    """This process's part of the launched distillation; the main process writes its result beside the spec. The
    process group is destroyed once the run is done (NCCL warns of, and may hang on, a group left to exit)."""
    job = json.loads(Path(path).read_text())
    run = distill(**from_spec(job["kwargs"]))
    if PartialState().is_main_process and job.get("result"):
        Path(job["result"]).write_text(json.dumps(run))
    end_process_group()
    return run


def end_process_group() -> None:
    """Destroy this process's default process group, where one is up (torchrun's workers; nothing otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def worker_logging() -> None:
    """INFO from the main process (rank 0), warnings and errors from the others, each line with its rank."""
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(level=logging.INFO if rank == "0" else logging.WARNING,
                        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s")
    logging.captureWarnings(True)


if __name__ == "__main__":
    worker_logging()
    run_spec(sys.argv[1])
