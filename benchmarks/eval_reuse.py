"""Evaluation of every default model (teacher, zero-shot proxy, the students) on the default's evaluation sets,
with and without encoder reuse, in one run: seconds per model, encoder passes, and whether the hypotheses are
identical. Needs the models and manifests of a default run (`make demo`, results/demo/); without trained students
it uses each architecture's untrained cut.

    .venv/bin/python benchmarks/eval_reuse.py [--clips-per-set 5] [--threads 1]
"""

import tempfile
from pathlib import Path

from common import ROOT, demo_config, parse_args

from udistil.plan.grid import student_grid, student_name
from udistil.plan.layout import Layout, run_name


def default_models(cfg: dict, lay: Layout) -> dict[str, Path]:
    """name -> folder of every model the default evaluates, in the workflow's order (teacher first)."""
    models = {cfg["teacher"]: ROOT / "resources" / "models" / cfg["teacher"]}
    for name in cfg["evaluation"].get("zero_shot", []):
        models[name] = ROOT / "resources" / "models" / name
    for arch, pool, f, seed in student_grid(cfg):
        name = student_name(arch, pool, f, seed)
        trained = ROOT / lay.res(f"students/{name}/model")
        models[name] = trained if trained.exists() else ROOT / lay.res(f"students/init-{arch}")
    missing = [str(p) for p in models.values() if not p.exists()]
    if missing:
        raise SystemExit(f"run the default first (make demo); missing: {missing}")
    return models


def main() -> None:
    args = parse_args(__doc__, clips_per_set=5, threads=1)

    from udistil.common.fileio import read_audio
    from udistil.corpora.manifest import read_manifest
    from udistil.labels.decoding import DecodeOptions, Transcriber

    cfg = demo_config()
    lay = Layout(run_name(cfg, [ROOT / "config.yaml"]))  # results/demo/
    models = default_models(cfg, lay)
    clips = []
    for s in cfg["evaluation"]["sets"]:
        for split in cfg["evaluation"]["splits"]:
            m = read_manifest(ROOT / lay.manifest(s, split))
            clips += [read_audio(p) for p in m["audio"].head(args.clips_per_set)]
    opts = DecodeOptions.from_section({**cfg["decoding"], "language": cfg["language"], "task": cfg["task"]})
    work = Path(tempfile.mkdtemp(prefix="udistil-bench-"))
    seconds: dict[tuple[str, str], float] = {}
    passes: dict[str, int] = {"off": 0, "on": 0}
    texts: dict[tuple[str, str], list[str]] = {}
    for mode in ("off", "on"):
        cache = {**cfg["encoder_cache"], "mode": mode, "dir": str(work / "cache")}
        for name, folder in models.items():  # the teacher first: it fills the cache the students read
            t = Transcriber.load(str(folder), opts, device="cpu", precision="fp32", cache=cache)
            texts[(mode, name)] = [h.text for h in t.transcribe(clips, desc=f"{mode} {name}")]
            seconds[(mode, name)] = t.decode_seconds
            passes[mode] += t.encoder_passes
    print(f"{len(models)} default models x {len(clips)} clips ({args.clips_per_set} per set and split), "
          f"{args.threads} threads")
    print(f"  {'model':36s} {'without':>8s} {'with':>8s}  identical")
    for name in models:
        same = texts[("off", name)] == texts[("on", name)]
        print(f"  {name:36s} {seconds[('off', name)]:7.1f}s {seconds[('on', name)]:7.1f}s  {same}")
    total = {mode: sum(v for (m, _), v in seconds.items() if m == mode) for mode in ("off", "on")}
    print(f"  all models: without reuse {total['off']:.1f} s, {passes['off']} encoder passes; "
          f"with reuse {total['on']:.1f} s, {passes['on']} encoder passes")
    print(f"  speed-up from encoder reuse: {total['off'] / total['on']:.2f}x; all hypotheses identical: "
          f"{all(texts[('off', n)] == texts[('on', n)] for n in models)}")


if __name__ == "__main__":
    main()
