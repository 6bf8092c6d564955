"""udistil.results.efficiency: ratios to the first row, architecture from the student's name, the child-process
protocol."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers import decode_options
from udistil.corpora.manifest import Record, build_manifest

MEASURED = {"t-dir": {"params": 100e6, "decode_seconds": 10.0, "peak_rss_mb": 900.0, "model_peak_mb": 400.0},
            "s-dir": {"params": 60e6, "decode_seconds": 4.0, "peak_rss_mb": 700.0, "model_peak_mb": 240.0},
            "z-dir": {"params": 40e6, "decode_seconds": 5.0, "peak_rss_mb": 600.0, "model_peak_mb": 100.0}}
MODELS = {"whisper-base": ("teacher", "t-dir"), "student-16-4-my_pool-nnll-s1": ("student", "s-dir"),
          "whisper-tiny-en": ("zero-shot", "z-dir")}


@pytest.fixture
def fake_measure(monkeypatch):
    from udistil.results import efficiency

    calls = []

    def measure(location, paths, options, *, threads, device, precision):
        calls.append((location, tuple(paths), threads, device, precision))
        return {**MEASURED[location], "peak_gpu_mb": None, "device": device}

    monkeypatch.setattr(efficiency, "measure", measure)
    return calls


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eff")
    records = [Record(id=f"u{i}", source=np.full(8000 * (i + 1), 0.01, np.float32), text="x") for i in range(3)]
    build_manifest(records=records, corpus="c", split="test", audio_dir=tmp / "audio",
                   manifest_path=tmp / "m.parquet", rejected_path=tmp / "r.tsv")
    return tmp / "m.parquet"


def test_ratios_are_to_the_first_row_and_arch_from_the_name(fake_measure):
    from udistil.results.efficiency import efficiency_table

    df = efficiency_table(MODELS, ["a.wav"], 20.0, decode_options(), threads=2, device="cpu",
                          precision="fp32").set_index("model")
    assert df["arch"].tolist() == ["", "16-4", ""]  # not "base" / "tiny-en" from splitting on dashes
    assert df.loc["student-16-4-my_pool-nnll-s1", ["param_ratio", "time_ratio", "memory_ratio"]].tolist() == \
        pytest.approx([0.6, 0.4, 0.6])
    assert df.loc["whisper-tiny-en", ["param_ratio", "time_ratio", "memory_ratio"]].tolist() == \
        pytest.approx([0.4, 0.5, 0.25])
    assert df.loc["whisper-base", ["param_ratio", "time_ratio", "memory_ratio"]].tolist() == [1.0, 1.0, 1.0]
    assert df["rtf"].tolist() == pytest.approx([0.5, 0.2, 0.25]) and "peak_gpu_mb" not in df
    assert [c[2:] for c in fake_measure] == [(2, "cpu", "fp32")] * 3


def test_run_efficiency_times_the_first_clips(fake_measure, manifest, tmp_path):
    from udistil.results.efficiency import run_efficiency

    df = run_efficiency(names=list(MODELS), locations=[loc for _, loc in MODELS.values()], manifest=str(manifest),
                        clips=2, options=decode_options(), threads=1, device="cpu", precision="fp32",
                        out_csv=tmp_path / "e.csv", out_md=tmp_path / "e.md")
    assert [len(c[1]) for c in fake_measure] == [2, 2, 2] and df["role"].tolist() == ["teacher", "student",
                                                                                    "student"]
    assert df["rtf"][0] == pytest.approx(10.0 / 1.5, abs=1e-4)  # 0.5 s + 1.0 s of audio (table rounded)
    assert pd.read_csv(tmp_path / "e.csv")["model"].tolist() == list(MODELS)
    assert "Measured on 2 clips" in (tmp_path / "e.md").read_text()


def test_run_efficiency_bad_inputs(fake_measure, manifest, tmp_path):
    from udistil.results.efficiency import run_efficiency

    kw = dict(options=decode_options(), threads=1, device="cpu", precision="fp32", out_csv=tmp_path / "e.csv",
              out_md=tmp_path / "e.md")
    with pytest.raises(ValueError, match="one location per model name"):
        run_efficiency(names=["teacher", "student-3-3-p-none-s1"], locations=["t-dir"], manifest=str(manifest), clips=2,
                       **kw)
    pd.read_parquet(manifest).iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match=r"empty.parquet: no audio to time"):
        run_efficiency(names=["whisper-base"], locations=["t-dir"], manifest=str(tmp_path / "empty.parquet"),
                       clips=2, **kw)
    assert fake_measure == []


def test_measure_runs_the_model_in_a_child_process(manifest, tiny_random_whisper):
    from transformers import WhisperForConditionalGeneration

    from udistil.results.efficiency import measure

    paths = pd.read_parquet(manifest)["audio"].tolist()[:2]
    m = measure(str(tiny_random_whisper), paths, decode_options(max_new_tokens=2), threads=1, device="cpu",
                precision="fp32")
    model = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper)
    assert m["params"] == sum(p.numel() for p in model.parameters()) and m["device"] == "cpu"
    assert m["decode_seconds"] > 0 and m["peak_rss_mb"] > m["model_peak_mb"] and m["peak_gpu_mb"] is None
    with pytest.raises(RuntimeError, match="efficiency measurement of .*no-such-model failed"):
        measure(str(manifest.parent / "no-such-model"), paths, decode_options(), threads=1, device="cpu",
                precision="fp32")


def markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """The Markdown table of a file read back: model -> column -> cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]
    return {r["model"]: r for r in rows}


def test_efficiency_table_files_hold_the_ratios_by_hand(fake_measure, manifest, tmp_path):
    from udistil.results.efficiency import run_efficiency

    run_efficiency(names=list(MODELS), locations=[loc for _, loc in MODELS.values()], manifest=str(manifest),
                   clips=3, options=decode_options(), threads=1, device="cpu", precision="fp32",
                   out_csv=tmp_path / "e.csv", out_md=tmp_path / "e.md")
    md = markdown_rows((tmp_path / "e.md").read_text())
    # 3 clips of 0.5, 1.0 and 1.5 s = 3.0 s; the student: 60/100 params, 4/10 s, 240/400 MB above baseline
    student = md["student-16-4-my_pool-nnll-s1"]
    assert (student["role"], student["arch"], student["params_m"], student["rtf"]) == ("student", "16-4", "60.000",
                                                                                      "1.333")
    assert [student[c] for c in ("param_ratio", "time_ratio", "memory_ratio")] == ["0.600", "0.400", "0.600"]
    assert [md["whisper-base"][c] for c in ("rtf", "param_ratio", "time_ratio")] == ["3.333", "1.000", "1.000"]
    csv = pd.read_csv(tmp_path / "e.csv").set_index("model")
    assert csv.loc["whisper-tiny-en", "memory_ratio"] == pytest.approx(0.25)
    text = (tmp_path / "e.md").read_text()
    assert "Measured on 3 clips" in text and "(3.0 s of audio)" in text
