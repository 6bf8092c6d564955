"""benchmarks/gpu.py: without a GPU it exits cleanly; at toy shapes its code runs on this device."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"


def gpu_benchmark(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300)


def test_without_a_gpu_it_says_so_and_exits_cleanly():
    run = gpu_benchmark()
    assert run.returncode == 0, run.stderr
    assert "no CUDA GPU here, nothing measured" in run.stdout


def test_at_toy_shapes_every_part_runs_and_compares_like_for_like():
    run = gpu_benchmark("--tiny")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("same tokens: True") == 3 and "4 tokens/clip" in out  # both batch sizes, end token held off
    assert "attention implementation: sdpa\n" in out
    pseudo = re.search(r"pseudo-labelling with timestamps, batch 8, 24 new tokens: .* ([\d.]+) timestamps/clip, "
                       r"same tokens: True", out)
    assert pseudo and float(pseudo.group(1)) > 0  # timestamps decoded, the two processors agreeing
    assert "encoder alone:" in out
    assert "distillation step (udistil's Trainer, the paper's settings), 2-1 student" in out
    assert "labels 8 tokens wide" in out  # --label-width (225 at full size) cut to toy shapes
    for row in ("without checkpointing", "with checkpointing"):  # both rows with their MFU
        assert re.search(rf"  {row}: [\d.]+ steps/s, MFU [\d.]+%", out), row
    diff = re.search(r"max difference (\S+)", out)
    assert diff and float(diff.group(1)) < 1e-4  # teacher targets: batched and per clip agree


def test_a_step_that_does_not_fit_is_rerun_at_half_the_batch_and_says_so(monkeypatch, capsys):
    """CUDA's out-of-memory error and cuBLAS failing to allocate both halve the batch; the failed try's tensors
    (held by its traceback) are freed before the cache is emptied; any other error is raised."""
    import gc
    import weakref

    import torch

    sys.path.insert(0, str(SCRIPT.parent))
    import gpu

    class Activations:  # what a failed step leaves in its frames
        pass

    tried, held, freed_then = [], [], []

    def steps(teacher, student, *, batch, **kw):
        tried.append(batch)
        activations = Activations()
        held.append(weakref.ref(activations))
        if batch == 32:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if batch == 16:
            raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
        return {"checkpointing": kw["checkpointing"], "batch": batch, "steps_per_s": 2.0}

    def free():
        gc.collect()
        freed_then.append(held[-1]() is None)

    monkeypatch.setattr(gpu, "distill_steps", steps)
    monkeypatch.setattr(gpu, "free_memory", free)
    row = gpu.distillation(None, None, batch=32, width=225, steps=1, checkpointing=False, device=None, sync=None)
    assert tried == [32, 16, 8] and row["batch"] == 8 and row["asked_batch"] == 32
    assert freed_then == [True, True]  # each failed try's objects were gone when the memory was freed
    out = capsys.readouterr().out
    assert "batch 32 without checkpointing: out of GPU memory; trying batch 16" in out
    assert "batch 16 without checkpointing: out of GPU memory; trying batch 8" in out

    def broken(teacher, student, *, batch, **kw):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu, "distill_steps", broken)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        gpu.distillation(None, None, batch=32, width=225, steps=1, checkpointing=True, device=None, sync=None)
    args = gpu.argparse.Namespace(tiny=True, tokens=4, distill_batch=32, label_width=225)
    rows = {"attention": "sdpa", "decode": [], "encoder": 1.0, "student": "2-1", "flops_per_clip": 1e12,
            "distill": [row], "pseudo": {"batch": 8, "tokens": 24, "vectorised": 1.0, "transformers": 1.0,
                                         "ratio": 1.0, "timestamps": 2.0, "same_tokens": True},
            "targets": {"batched": 1.0, "per clip": 1.0, "ratio": 1.0, "diff": 0.0}}
    gpu.report("H100", rows, 1e15, args)
    assert "without checkpointing at batch 8 (batch 32 did not fit): 2.00 steps/s, MFU 1.6%" in capsys.readouterr().out
