"""Efficiency of the teacher and each student architecture, measured side by side on the same clips.

Each model decodes the same clips in a fresh child process (so peak memory is its own), with the encoder
cache off (every model pays for its own encoder).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from pathlib import Path

import pandas as pd

from udistil.decoding import DecodeOptions


def _measure(location: str, paths: list[str], options: DecodeOptions, threads: int, queue) -> None:
    import torch

    from udistil.decoding import Transcriber
    from udistil.io import read_audio

    torch.set_num_threads(threads)
    audios = [read_audio(p) for p in paths]
    t = Transcriber(location, options, device="cpu")
    t.transcribe(audios[:1], desc="warm-up")
    start = time.perf_counter()
    t.transcribe(audios, desc=Path(location).name)
    seconds = time.perf_counter() - start
    queue.put({"params": sum(p.numel() for p in t.model.parameters()), "decode_seconds": seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(location: str, paths: list[str], options: DecodeOptions, threads: int = 1) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(location, paths, options, threads, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"efficiency measurement of {location} failed (exit {proc.exitcode})")
    return result


def efficiency_table(models: dict[str, tuple[str, str]], paths: list[str], audio_seconds: float,
                     options: DecodeOptions, threads: int = 1) -> pd.DataFrame:
    """`models`: name -> (role, location), the teacher first; ratios are to the teacher."""
    rows = []
    for name, (role, location) in models.items():
        m = measure(location, paths, options, threads)
        arch = "-".join(name.split("-")[1:3]) if role == "student" else ""
        rows.append({"model": name, "role": role, "arch": arch, "params_m": m["params"] / 1e6,
                     "rtf": m["decode_seconds"] / audio_seconds, "decode_seconds": m["decode_seconds"],
                     "peak_rss_mb": m["peak_rss_mb"]})
    df = pd.DataFrame(rows)
    teacher = df.iloc[0]
    df["param_ratio"] = df["params_m"] / teacher["params_m"]
    df["time_ratio"] = df["decode_seconds"] / teacher["decode_seconds"]
    df["memory_ratio"] = df["peak_rss_mb"] / teacher["peak_rss_mb"]
    return df.round(4)


def run_efficiency(names: list[str], locations: list[str], manifest: str, clips: int, options: DecodeOptions,
                   out_csv: str, out_md: str) -> pd.DataFrame:
    """Measure the teacher (first) and one student per architecture on the first `clips` clips of a manifest."""
    from udistil.io import write_text
    from udistil.manifest import read_manifest
    from udistil.tables import to_markdown, write_csv

    m = read_manifest(manifest).iloc[:clips]
    models = {n: ("teacher" if i == 0 else "student", loc) for i, (n, loc) in enumerate(zip(names, locations,
                                                                                            strict=True))}
    df = efficiency_table(models, m["audio"].tolist(), float(m["duration_s"].sum()), options)
    write_csv(df, out_csv)
    write_text(f"Measured on {len(m)} clips of {manifest} ({m['duration_s'].sum():.1f} s of audio), one model "
               "per fresh process, encoder cache off. Ratios are to the teacher.\n\n" + to_markdown(df, 3) + "\n",
               out_md)
    return df
