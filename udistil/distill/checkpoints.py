"""Resumable training state: accelerate checkpoints with the loss history, written beside and renamed."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INPUTS_FILE = "inputs.sha256"


def checkpoints(folder: Path) -> list[Path]:
    found = [p for p in folder.glob("step-*") if p.is_dir() and (p / "done").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(accelerator, folder: Path, step: int, history: list[dict], keep: int,
                    validation: list[dict] | None = None) -> None:
    """Save accelerator state (model, optimiser, scheduler, every process's RNG), the loss history and the
    validation curve atomically: written beside, then renamed. Every process calls it; the main process alone
    clears, completes and renames, between barriers, so all see the same checkpoints afterwards."""
    final = folder / f"step-{step}"
    tmp = folder / f".step-{step}.tmp"
    main = accelerator.is_main_process
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()  # every process's RNG state is written
    if main:
        (tmp / "history.json").write_text(json.dumps(history))
        (tmp / "validation.json").write_text(json.dumps(validation or []))
        (tmp / "done").write_text(str(step))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in checkpoints(folder)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def remove_checkpoints(folder: Path) -> None:
    """Remove a finished run's checkpoints folder (its model is written; they only served to resume). A folder
    that cannot be removed is a warning, not a failed run."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return
    except OSError as err:
        log.warning("%s: checkpoints not removed (%s)", folder, err)
        return
    log.info("%s: checkpoints removed (students.training.checkpoints_after_training: remove)", folder)


def inputs_key(files: Iterable[Path], settings: dict[str, Any]) -> str:
    """sha256 over the bytes of the run's input files (subset, manifest, the initialised student's folder) and its
    settings: what a checkpoint may only be resumed with."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in files:
        digest.update(str(Path(path).name).encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()


def claim(folder: Path, key: str) -> list[Path]:
    """Make `folder` hold checkpoints of the run whose inputs hash to `key` only: checkpoints written for other
    inputs (a rerun after the subset or the settings changed), or with no record of theirs, are removed with a
    warning naming them. Returns the removed checkpoints. The main process calls it, before any resumes."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / INPUTS_FILE
    stale = [] if record.exists() and record.read_text().strip() == key else sorted(folder.glob("step-*"))
    for old in stale:
        log.warning("%s: written for other inputs than this run's (subset, manifest, student or settings "
                    "changed); removed, training starts from step 0", old)
        shutil.rmtree(old)
    tmp = folder / f".{INPUTS_FILE}.tmp"
    tmp.write_text(key + "\n")
    tmp.replace(record)
    return stale
