"""Efficiency of the teacher and each student architecture, measured side by side on the same clips.

Each model decodes the same clips in a fresh child process (so peak memory is its own), on the run's device
and precision, with the encoder cache off (every model pays for its own encoder).
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from udistil.common.clips import Clips
from udistil.labels.decoding import DecodeOptions, Transcriber
from udistil.common.fileio import write_text
from udistil.common.processes import python_env
from udistil.corpora.manifest import read_manifest
from udistil.plan.grid import parse_student_name
from udistil.results.table_io import to_markdown, write_csv

log = logging.getLogger(__name__)


def _measure(location: str, paths: list[str], options: dict, threads: int, device: str, precision: str) -> dict:
    """Decode the clips once (after a one-clip warm-up); runs in the child process."""
    torch.set_num_threads(threads)
    audios = Clips.from_files(paths, "efficiency clips")  # read batch by batch while decoding
    baseline = _rss_mb()  # the interpreter, torch and transformers, before any weights
    t = Transcriber.load(location, DecodeOptions(**options), device=device, precision=precision, cache=None)
    t.transcribe([audios[0]], desc="warm-up")
    if t.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(t.device)
    start = time.perf_counter()
    t.transcribe(audios, desc=Path(location).name)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated(t.device) / 2**20 if t.device.type == "cuda" else None
    return {"params": sum(p.numel() for p in t.model.parameters()), "decode_seconds": seconds,
            "peak_rss_mb": peak, "model_peak_mb": peak - baseline, "peak_gpu_mb": gpu, "device": t.device.type}


def _rss_mb() -> float:
    """Current resident memory (Linux /proc; elsewhere the peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(location: str, paths: list[str], options: DecodeOptions, *, threads: int, device: str,
            precision: str) -> dict:
    """Measure one model in a fresh Python process (its peak memory is its own)."""
    job = json.dumps({"location": location, "paths": paths, "options": asdict(options), "threads": threads,
                      "device": device, "precision": precision})
    proc = subprocess.run([sys.executable, "-m", "udistil.results.efficiency"], input=job, capture_output=True,
                          text=True, env=python_env())  # this udistil, installed in the job's environment or not
    if proc.returncode != 0:
        raise RuntimeError(f"efficiency measurement of {location} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def efficiency_table(models: dict[str, tuple[str, str]], paths: list[str], audio_seconds: float,
                     options: DecodeOptions, *, threads: int, device: str, precision: str) -> pd.DataFrame:
    """`models`: name -> (role, location), the teacher first; ratios are to the first row."""
    rows = []
    for name, (role, location) in tqdm(models.items(), desc="efficiency", unit="model"):
        m = measure(location, paths, options, threads=threads, device=device, precision=precision)
        log.info("%s: %.1f M parameters, %.2f s, %.0f MB above baseline", name, m["params"] / 1e6,
                 m["decode_seconds"], m["model_peak_mb"])
        student = parse_student_name(name)
        rows.append({"model": name, "role": role, "arch": student["arch"] if student else "",
                     "params_m": m["params"] / 1e6, "rtf": m["decode_seconds"] / audio_seconds,
                     "decode_seconds": m["decode_seconds"], "peak_rss_mb": m["peak_rss_mb"],
                     "model_peak_mb": m["model_peak_mb"], **_gpu(m)})
    df = pd.DataFrame(rows)
    first = df.iloc[0]
    df["param_ratio"] = df["params_m"] / first["params_m"]
    df["time_ratio"] = df["decode_seconds"] / first["decode_seconds"]
    memory = "peak_gpu_mb" if "peak_gpu_mb" in df else "model_peak_mb"
    df["memory_ratio"] = df[memory] / first[memory]
    return df.round(4)


def _gpu(m: dict) -> dict:
    return {"peak_gpu_mb": m["peak_gpu_mb"]} if m.get("peak_gpu_mb") is not None else {}


def run_efficiency(*, names: list[str], locations: list[str], manifest: str, clips: int, options: DecodeOptions,
                   threads: int, device: str, precision: str, out_csv: str, out_md: str) -> pd.DataFrame:
    """Measure the teacher (first) and one student per architecture on the first `clips` clips of a manifest."""
    if len(names) != len(locations) or not names:
        raise ValueError(f"efficiency needs one location per model name, the teacher first: {names} vs {locations}")
    m = read_manifest(manifest).iloc[:clips]
    if m.empty or not m["duration_s"].sum() > 0:
        raise ValueError(f"{manifest}: no audio to time (efficiency.clips = {clips})")
    models = {n: ("teacher" if i == 0 else "student", loc) for i, (n, loc) in enumerate(zip(names, locations,
                                                                                            strict=True))}
    df = efficiency_table(models, m["audio"].tolist(), float(m["duration_s"].sum()), options, threads=threads,
                          device=device, precision=precision)
    write_csv(df, out_csv)
    memory = ("`peak_gpu_mb` is the peak GPU memory torch allocated while decoding; `memory_ratio` compares it"
              if "peak_gpu_mb" in df else "`memory_ratio` compares `model_peak_mb`")
    write_text(f"Measured on {len(m)} clips of {manifest} ({m['duration_s'].sum():.1f} s of audio), one model "
               f"per fresh process on {device} ({precision}), encoder cache off. `model_peak_mb` is the peak "
               "resident memory above the process's baseline with torch loaded (weights, activations, decoding "
               f"state); {memory}. Ratios are to the teacher.\n\n" + to_markdown(df, 3) + "\n", out_md)
    return df


if __name__ == "__main__":  # the child of `measure`: a job as JSON on stdin, the result as JSON on stdout
    job = json.loads(sys.stdin.read())
    print(json.dumps(_measure(job["location"], job["paths"], job["options"], job["threads"], job["device"],
                              job["precision"])))
