"""Resumable training state: accelerate checkpoints with the loss history, written beside and renamed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


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
