"""benchmarks/gpu.py: without a GPU it exits cleanly; at toy shapes its code runs on this device."""

import os
import re
import subprocess
import sys
from pathlib import Path

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
    for row in ("without checkpointing", "with checkpointing"):  # both rows with their MFU
        assert re.search(rf"  {row}: [\d.]+ steps/s, MFU [\d.]+%", out), row
    diff = re.search(r"max difference (\S+)", out)
    assert diff and float(diff.group(1)) < 1e-4  # teacher targets: batched and per clip agree
