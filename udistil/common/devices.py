"""The torch device and precision of a job, from the config's `device` and `precision`."""

from __future__ import annotations

import torch


def pick_device(device: str) -> torch.device:
    """The torch device for the config's `device`: `auto` picks CUDA when there is one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device: cuda requested but no CUDA device is available")
    return torch.device(device)


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16/fp16 on CUDA when configured; CPU always fp32 (bf16 is slower on CPU)."""
    if device.type != "cuda":
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
