"""Shared set-up for the benchmark scripts: offline switches, the packaged teacher, a few synthetic clips."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")


def parse_args(doc: str, **defaults: int):
    """Command-line options of a benchmark: each default becomes `--name N`; threads default to 2."""
    import argparse

    ap = argparse.ArgumentParser(description=doc)
    for name, value in {**defaults, "threads": defaults.get("threads", 2)}.items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    return args


def demo_config() -> dict:
    """config.yaml as the workflow runs it: validated, every schema default filled."""
    from udistil.config.validate import filled

    return filled(ROOT / "config.yaml")


def teacher_dir() -> str:
    """The converted packaged whisper-base (reused from resources/ when the workflow built it)."""
    folder = ROOT / "resources" / "models" / "whisper-base"
    if not folder.exists():
        from udistil.models.assets import convert_packaged_whisper

        convert_packaged_whisper("whisper-base", folder)
    return str(folder)


def synthetic_clips(n: int, seed: int = 3):
    from udistil.corpora.synthetic import SyntheticSpec, synthetic_records

    spec = SyntheticSpec(voices=["en-us+m1", "en-us+f2", "en-us+m4"], conditions=["clean", "white@10"],
                         rate=(150, 200), pitch=(35, 65))  # the benchmarks' own clips, fixed here
    return [(r.source, r.text) for r in synthetic_records(spec, n, seed, "bench", "test")]


def training_set(work: Path, n: int) -> tuple[Path, Path]:
    """A manifest of `n` synthetic clips under `work` and a distillation subset of all of them (their texts as
    pseudo-labels, their durations as a selection step writes them): (manifest, subset)."""
    import pandas as pd

    from udistil.corpora.manifest import Record, build_manifest

    manifest, subset = work / "m.parquet", work / "subset.parquet"
    build_manifest(records=[Record(id=f"c{i}", source=a, text=t) for i, (a, t) in enumerate(synthetic_clips(n))],
                   corpus="bench", split="train", audio_dir=work / "audio", manifest_path=manifest,
                   rejected_path=work / "r.tsv")
    clips = pd.read_parquet(manifest)
    clips.assign(pseudo_label=clips["text"])[["id", "duration_s", "pseudo_label"]].to_parquet(subset)
    return manifest, subset


def command_seconds(cmd: list[str], repeats: int, check: bool = True) -> float:
    """Median wall seconds of running `cmd` (a fresh process each time; its output discarded; with `check` off, a
    failing command counts too)."""
    import statistics
    import subprocess

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=check, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


class Replay:
    """Stands in for a Transcriber's encoder: states computed before timing, looked up by the batch's first clip."""

    cache = None

    def __init__(self, states: dict[int, object]):
        self.states = states

    def __call__(self, audios, keys=None):
        return self.states[id(audios[0])]


def best_of(runs: dict, repeats: int, sync=lambda: None) -> tuple[dict[str, float], dict]:
    """Each variant `repeats` times, interleaved: its best seconds and its last result; `sync` waits for a GPU."""
    seconds = {name: float("inf") for name in runs}
    results = {}
    for _ in range(repeats):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            results[name] = run()
            sync()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    return seconds, results
