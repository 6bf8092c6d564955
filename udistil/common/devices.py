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


def check_precision(precision: str, device: torch.device) -> None:
    """A clear error, before any model loads, when the config's `precision` is bf16 and the job's GPU has no native
    bfloat16 (compute capability below 8.0: V100, T4; torch would emulate it, slowly and without the bf16 tensor
    cores the setting is for)."""
    if precision != "bf16" or device.type != "cuda":
        return
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        name = torch.cuda.get_device_name(device)
        raise ValueError(f"config precision: bf16, but this GPU ({name}) has no native bfloat16 support; set "
                         "precision: fp16 (or fp32) in the config")


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16/fp16 on CUDA when configured; CPU always fp32 (bf16 is slower on CPU)."""
    if device.type != "cuda":
        return torch.float32
    check_precision(precision, device)
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
