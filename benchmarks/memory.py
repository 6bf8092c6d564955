"""Peak memory of every audio-reading job at N and 10N clips, side by side in one run: each job runs in a fresh
child process on N, then on 10N clips of 10 s, and the ratio of their peak RSS is printed (bounded: about 1).

Jobs: manifest (a local transcript table of 22.05 kHz WAVs, converted; and a saved HF dataset), pseudo-label
(one shard, flushes), transcribe (proxy), evaluate, the pesq score (pool_audio) and efficiency. The models are a
tiny random Whisper (as the tests build it): the point is the audio a job holds, not the model.

    .venv/bin/python benchmarks/memory.py [--clips 30] [--seconds 10] [--threads 1] [--baseline /other/checkout]
                                          [--jobs manifest_hf,pesq]   # a subset of the jobs

`--baseline` also runs every job with another checkout's `udistil` (e.g. before streaming), side by side.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, parse_args

JOBS = ["manifest", "manifest_hf", "pseudo_label", "transcribe", "evaluate", "pesq", "efficiency"]


def write_sources(folder: Path, n: int, seconds: int) -> Path:
    """`n` clips of noise at 22.05 kHz (so the manifest converts them) and their transcript table."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["id\tpath\ttext"]
    for i in range(n):
        sf.write(folder / f"c{i:05d}.wav", (rng.standard_normal(22050 * seconds) * 0.1).astype(np.float32), 22050)
        lines.append(f"c{i:05d}\tc{i:05d}.wav\tthe cat sat on the mat")
    (folder / "table.tsv").write_text("\n".join(lines) + "\n")
    return folder / "table.tsv"


def write_dataset(folder: Path, table: Path) -> Path:
    """The same clips as a saved HF dataset with the audio bytes inside."""
    import datasets
    import pandas as pd

    df = pd.read_csv(table, sep="\t")
    audio = [{"bytes": (table.parent / p).read_bytes(), "path": None} for p in df["path"]]
    ds = datasets.Dataset.from_dict({"audio": audio, "text": df["text"].tolist(), "key": df["id"].tolist()})
    ds.cast_column("audio", datasets.Audio(decode=False)).save_to_disk(folder)
    return folder


def prepare(work: Path, n: int, seconds: int) -> None:
    """Sources, the model and every job's inputs for `n` clips (outside the measured children)."""
    table = write_sources(work / "src", n, seconds)
    write_dataset(work / "ds", table)
    if not (work.parent / "model").exists():
        from udistil.models.specs import random_whisper

        spec = {"random": "whisper", "seed": 0, "tokenizer": "whisper-base", "config": {}}  # as tests/conftest.py
        random_whisper(spec, work.parent / "model")


def run_job(job: str, work: Path, threads: int) -> dict:
    """One job in this (child) process; its outputs under `work/out`."""
    import torch

    torch.set_num_threads(threads)
    from tests.helpers import corpus_spec, filled_config
    from udistil.labels.decoding import DecodeOptions

    cfg, out, model = filled_config(), work / "out", str(work.parent / "model")
    section = {**cfg["decoding"], "language": "en", "task": "transcribe", "max_new_tokens": 8}
    options = DecodeOptions.from_section(section)
    manifest = work / "manifest.parquet"
    common = dict(model=model, options=options, device="cpu", precision="fp32", cache=None)
    if job in ("manifest", "manifest_hf"):
        from udistil.corpora.manifest import build_manifest
        from udistil.corpora.records import corpus_records

        spec = ({"type": "local", "splits": {"x": str(work / "src" / "table.tsv")}} if job == "manifest" else
                {"type": "hf", "path": str(work / "ds"), "from_disk": True, "splits": {"x": "x"}, "id_column": "key"})
        name = "manifest.parquet" if job == "manifest" else "hf.parquet"
        build_manifest(records=corpus_records(name="c", spec=corpus_spec(spec), split="x", seed=0), corpus="c",
                       split="x", audio_dir=work / f"audio_{job}", manifest_path=work / name,
                       rejected_path=work / f"{name}.rejected.tsv")
    elif job == "pseudo_label":
        from udistil.labels.pseudo_label import transcribe_shard

        transcribe_shard(manifest_path=manifest, output=out / "labels.parquet", shard=0, n_shards=1,
                         flush_every=2, **common)
    elif job == "transcribe":
        from udistil.labels.pseudo_label import transcribe_shard

        transcribe_shard(manifest_path=manifest, output=out / "proxy.parquet", shard=0, n_shards=1, flush_every=2,
                         statistics=False, **common)
    elif job == "evaluate":
        from udistil.evaluate.evaluation import EvalSet, evaluate

        evaluate(sets=[EvalSet(manifest=manifest, table=out / "eval.parquet", metrics=out / "eval.json")],
                 norm_kind="english", long_clips="drop", **common)
    elif job == "pesq":
        from udistil.scores.pesq import run_pesq

        run_pesq(labels=str(out / "labels.parquet"), manifest=str(manifest), out=str(out / "pesq.parquet"),
                 cfg={"voice": "en-us", "rate": 170, "mode": "wb", "align": "stretch"})
    elif job == "efficiency":  # what efficiency's own child process runs
        from dataclasses import asdict

        import pandas as pd

        from udistil.results.efficiency import _measure

        _measure(model, pd.read_parquet(manifest)["audio"].tolist(), asdict(options), threads, "cpu", "fp32")
    return {"peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss keeps the parent's peak
    at fork time on Linux, which would hide a child's own)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(job: str, work: Path, threads: int, code: Path) -> float:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--child", job, str(work), str(threads), str(code)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=code)
    if proc.returncode != 0:
        raise RuntimeError(f"{job} at {work.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, sys.argv[5])  # the checkout under test before this one (common.py put ROOT first)
        print(json.dumps(run_job(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
        return
    codes = {"this checkout": ROOT}
    if "--baseline" in sys.argv:
        i = sys.argv.index("--baseline")
        codes["baseline"] = Path(sys.argv[i + 1]).resolve()
        del sys.argv[i:i + 2]
    jobs = JOBS
    if "--jobs" in sys.argv:
        i = sys.argv.index("--jobs")
        jobs = [j for j in sys.argv[i + 1].split(",") if j]
        unknown = sorted(set(jobs) - set(JOBS))
        if unknown:
            raise SystemExit(f"--jobs: unknown {unknown}; jobs: {JOBS}")
        del sys.argv[i:i + 2]
    args = parse_args(__doc__, clips=30, seconds=10, threads=1)
    sizes = {"N": args.clips, "10N": 10 * args.clips}
    with tempfile.TemporaryDirectory(prefix="udistil-memory-") as tmp:
        peaks = {}
        for name, code in codes.items():
            for label, n in sizes.items():
                shutil.rmtree(Path(tmp) / label, ignore_errors=True)
                prepare(Path(tmp) / label, n, args.seconds)
            peaks[name] = {job: {label: child(job, Path(tmp) / label, args.threads, code) for label in sizes}
                           for job in jobs}
    print(f"peak RSS (MB) of each job at N = {args.clips} and 10N = {10 * args.clips} clips of {args.seconds} s, "
          f"{args.threads} thread(s), each in a fresh process")
    print("| job | " + " | ".join(f"{c}: N | 10N | ratio" for c in codes) + " |")
    print("|---|" + "---|---|---|" * len(codes))
    for job in jobs:
        cells = [f"{p[job]['N']:.0f} | {p[job]['10N']:.0f} | {p[job]['10N'] / p[job]['N']:.2f}" for p in peaks.values()]
        print(f"| {job} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
