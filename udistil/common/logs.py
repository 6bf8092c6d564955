"""Logging for workflow scripts: everything a job prints goes to its `log:` file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from udistil.common.determinism import deterministic_mode

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def set_offline(offline: bool) -> None:
    """Forbid (or allow) Hugging Face network access in this process."""
    for var in OFFLINE_VARS:
        if offline:
            os.environ[var] = "1"
        else:
            os.environ.pop(var, None)


@contextlib.contextmanager
def job_logging(log_path: str | None, offline: bool = True) -> Iterator[logging.Logger]:
    """Send stderr, warnings and the `udistil` loggers to `log_path` for the duration of a job."""
    set_offline(offline)
    handle = open(log_path, "w", buffering=1) if log_path else None  # noqa: SIM115
    old_stderr = sys.stderr
    if handle:
        sys.stderr = handle
    root = logging.getLogger()
    handler = logging.StreamHandler(handle or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield logging.getLogger("udistil.job")
    except BaseException:
        logging.getLogger("udistil.job").exception("job failed")
        raise
    finally:
        root.removeHandler(handler)
        sys.stderr = old_stderr
        if handle:
            handle.close()


@contextlib.contextmanager
def snakemake_job(smk: Any) -> Iterator[logging.Logger]:
    """`job_logging` for a Snakemake `script:` job (log file and offline switch from the job), under the
    config's `deterministic` setting: every job, decoding and scores included, not only distillation."""
    log = smk.log[0] if len(smk.log) else None
    with job_logging(log, offline=bool(smk.config["offline"])) as logger:
        if not smk.config.get("deterministic"):
            yield logger
            return
        with deterministic_mode(True):
            logger.info("deterministic: torch deterministic algorithms, cuBLAS workspace %s",
                        os.environ["CUBLAS_WORKSPACE_CONFIG"])
            yield logger


def set_threads(n: int) -> None:
    """Torch intra-op threads for this job (Snakemake `threads:`)."""
    import torch

    torch.set_num_threads(max(1, int(n)))
