"""Determinism as a choice (the config's `deterministic`): deterministic torch algorithms, a fixed cuBLAS
workspace and cuDNN without autotuning, for the duration of a job.

On a CPU the pipeline's torch work is already deterministic; on a GPU, without this, atomics and autotuned kernels
make the same run differ in the last bits (docs/reproducibility.md). The cost: some kernels fall back to slower
deterministic versions, cuBLAS keeps a workspace per stream, and an op without a deterministic version raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

CUBLAS_WORKSPACE = ":4096:8"


@contextlib.contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """Deterministic algorithms while the block runs (nothing changes when not `enabled`); the previous settings
    come back afterwards. CUBLAS_WORKSPACE_CONFIG only acts if set before cuBLAS starts: the distributed launcher
    sets it in the workers' environment, and here it is set when not already."""
    if not enabled:
        yield
        return
    import torch  # here: every job's logging imports this module, and most jobs need no torch

    previous = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
                torch.backends.cudnn.deterministic, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = previous[1], previous[2]
        if previous[3] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
