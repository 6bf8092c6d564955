"""The paper's workflow at toy scale (tests.toy): configs/paper.yaml's whole DAG run end to end, outputs checked by
content."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import job_counts
from tests.toy import (
    PAPER,
    PROCESSES,
    SONAR_STAND_IN,
    expected_evaluations,
    expected_models,
    expected_students,
    family,
    paper_config,
    teacher_depth,
    toy_config,
    write_toy_inputs,
)
from udistil.common.normalize import normalizer
from udistil.config.validate import filled
from udistil.evaluate.metrics import utterance_wer
from udistil.labels.timestamps import has_timestamps, strip_timestamps
from udistil.plan.grid import cell_of, filter_of, student_grid, student_name
from udistil.results.paper import paper_row_name

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # OpenMP threads spin against each other on a shared 2-core machine
    proc = subprocess.run([*SNAKEMAKE, *map(str, args)], cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(map(str, args))} failed:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


def test_toy_config_changes_only_what_must_change(tmp_path):
    paper, toy = paper_config(), toy_config(tmp_path)
    changed = {k for k in paper if paper[k] != toy[k]} | set(toy).difference(paper)
    assert changed == {"offline", "device", "models", "corpora", "scores", "students", "description", "run"}
    assert (toy["offline"], toy["device"]) == (True, "cpu")
    assert {k: v for k, v in toy["scores"].items() if k != "sonar"} == {
        k: v for k, v in paper["scores"].items() if k != "sonar"}  # proxy, nnll and PESQ as the paper has them
    assert toy["scores"]["sonar"] == {"backend": "text_embedding", "model": SONAR_STAND_IN}
    assert toy["students"] == {**paper["students"], "training": {**paper["students"]["training"],
                                                                 "num_processes": PROCESSES}}
    assert set(toy["models"]) == set(paper["models"]) | {SONAR_STAND_IN}
    assert all(toy["models"][m] == {"path": str(tmp_path / "models" / m)} for m in paper["models"])
    for name, spec in paper["corpora"].items():  # columns, splits, names and meta columns kept
        assert toy["corpora"][name] == {**spec, "path": str(tmp_path / "data" / name), "from_disk": True}
    # global batch 128 = 16 per process x 2 processes x 4 accumulation steps
    training = filled_toy(tmp_path)["students"]["training"]
    assert training["global_batch_size"] // (training["batch_size"] * training["num_processes"]) == 4


def filled_toy(folder):
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump(toy_config(folder), allow_unicode=True))
    return filled(path)


def test_each_hub_model_has_a_stand_in_of_its_family():
    paper = paper_config()
    assert {m: family(m, paper) for m in paper["models"]} == {
        "whisper-large-v2": "whisper", "seamless-m4t-v2-large": "seamless_m4t_v2", "acegpt-7b": "causal_lm",
        "whisper-small": "whisper", "whisper-medium": "whisper", "whisper-large-v3": "whisper",
        "seamless-m4t-medium": "seamless_m4t", "seamless-m4t-large": "seamless_m4t", "mms-1b-all": "ctc"}
    assert teacher_depth(paper) == 32  # deep enough for the 32-16 and 16-16 maps, as large-v2
    with pytest.raises(ValueError, match=r"config key 'models.x': no toy model for 'org/unknown'"):
        family("x", {**paper, "models": {"x": {"hub": "org/unknown"}}})


def test_expected_names_mirror_the_papers_grid(tmp_path):
    paper = filled(PAPER)
    students = expected_students(toy_config(tmp_path))
    assert students == [student_name(*s) for s in student_grid(paper)] and len(students) == 22
    models = expected_models(toy_config(tmp_path))
    assert len(models) == 30 and models[:8] == [paper["teacher"], *paper["evaluation"]["zero_shot"]]
    assert len(expected_evaluations(toy_config(tmp_path))) == 30 * 6 * 2


@pytest.mark.slow
@pytest.mark.paper_toy
def test_toy_paper_run_end_to_end(tmp_path):
    """The paper's DAG, job for job, on tiny random models and datasets: every evaluation, the matrix, the paper
    side by side (Table 1 and Table 3 by category), truncated clips, timestamps kept and stripped."""
    config = write_toy_inputs(tmp_path / "inputs")
    toy = yaml.safe_load(config.read_text())
    run = tmp_path / "run"
    dry = job_counts(snakemake("-n", "-d", run, "--configfile", config).stdout)
    assert dry == job_counts(snakemake("-n", "-d", tmp_path / "paper", "--configfile", PAPER).stdout)
    assert dry["total"] == 169 and dry["distill"] == 22 and dry["evaluate"] == 30
    assert dry["export_pool"] == 2 and dry["export_subset"] == 11  # each pool and each filter's subset as a dataset
    snakemake("--cores", "2", "-d", run, "--configfile", config)
    results = run / "results" / toy["run"]
    check_matrix(results, toy)
    check_evaluations(results, toy)
    check_paper_tables(results, toy)
    check_timestamps(results, toy)


def check_matrix(results, toy):
    matrix = pd.read_csv(results / "tables" / "result_matrix.csv")
    # 30 rows: teacher, 7 zero-shot, 22 student cells (one training seed each)
    assert matrix["model"].tolist() == [cell_of(m) for m in expected_models(toy)]
    assert matrix.loc[matrix["group"].isin(["no-filter", "supervised", "label-free"]), "model"].tolist() == \
        [cell_of(m) for m in expected_students(toy)]
    for corpus in toy["evaluation"]["sets"]:
        assert matrix[corpus].notna().all(), corpus
    training = toy["students"]["training"]
    for arch, pool, filt, seed in student_grid(filled(PAPER)):
        run = json.loads((results / "students" / student_name(arch, pool, filt, seed) / "run.json").read_text())
        kept = json.loads((results / "subsets" / pool / f"{filt}.json").read_text())["kept_clips"]
        assert run["clips"] == kept > 0 and run["config"]["num_processes"] == PROCESSES
        assert run["steps"] == training["epochs"] * math.ceil(kept / training["global_batch_size"])
        # an epoch is one pass over the subset (a short last step, its fill at most one micro-batch a process),
        # not a global batch of repeats
        fill = PROCESSES * training["batch_size"] / kept
        assert training["epochs"] <= run["student_encoder_passes_per_clip"] <= training["epochs"] * (1 + fill)


def check_evaluations(results, toy):
    sada = "sada"
    for model, corpus, split in expected_evaluations(toy):
        metrics = json.loads((results / "eval" / model / corpus / f"{split}.json").read_text())
        table = pd.read_parquet(results / "eval" / model / corpus / f"{split}.parquet")
        manifest = pd.read_parquet(results / "manifests" / corpus / f"{split}.parquet")
        assert metrics["n"] == len(table) == len(manifest) and table["id"].tolist() == manifest["id"].tolist()
        long = int((manifest["duration_s"] > 30).sum())
        assert metrics["long_clips"] == metrics["truncated"] == long  # first_window: kept, decoded, counted
        assert not table["hypothesis"].map(has_timestamps).any()
        if corpus == sada:
            assert set(metrics["by_category"]) == set(toy["paper"]["categories"])
    assert (pd.read_parquet(results / "manifests" / sada / "test.parquet")["duration_s"] > 30).sum() == 1


def paper_rows(matrix, cfg):
    """Model -> the paper row it reproduces (or None)."""
    return {r.model: paper_row_name(r.model, r.group, r.arch, r.pool, filter_of(r.model), cfg)
            for r in matrix.itertuples()}  # the filter from the model's name: the table shows sonar* for a stand-in


def check_paper_tables(results, toy):
    matrix = pd.read_csv(results / "tables" / "result_matrix.csv", keep_default_na=False, na_values=[""])
    rows = paper_rows(matrix, toy["paper"])
    table1 = pd.read_csv(ROOT / "paper" / "table1.csv").set_index("model")
    side = pd.read_csv(results / "tables" / "paper_vs_run.csv", keep_default_na=False, na_values=[""])
    only = side[side["model"].isna()]  # published only: rows no model of the run reproduces
    assert set(only["paper_row"]) == set(table1.index) - set(rows.values())
    assert {"Amazon", "XLS-R", "HuBERT", "W-FT"} <= set(only["paper_row"]) and only["reproduced_wer"].isna().all()
    ours = side[side["model"].notna()]
    assert set(ours["model"]) == {m for m, row in rows.items() if row in table1.index}
    assert ours["reproduced_wer"].notna().all()
    table3 = pd.read_csv(ROOT / "paper" / "table3.csv").set_index("model")
    side3 = pd.read_csv(results / "tables" / "paper_vs_run_table3.csv", keep_default_na=False, na_values=[""])
    filled3 = side3[side3["model"].notna()]
    in_table3 = {m for m, row in rows.items() if row in table3.index}
    assert in_table3 and set(filled3["model"].map(cell_of)) == in_table3  # Table 3 beside each seed's student
    for model, cells in filled3.groupby("model"):  # every category of Table 3 filled
        assert set(cells["paper_column"]) == set(toy["paper"]["categories"].values()), model
        assert cells["reproduced_wer"].notna().all() and (cells["set"] == "sada").all()


def check_timestamps(results, toy):
    norm = normalizer(toy["normalizer"])
    for pool in toy["pools"]:
        labels = pd.read_parquet(results / "pseudo_labels" / f"{pool}.parquet")
        assert labels["pseudo_label"].map(has_timestamps).all()  # every pseudo-label opens with its timestamp
        stand_in = pd.read_parquet(results / "scores" / pool / "sonar.parquet")
        assert not stand_in["pseudo_label"].map(has_timestamps).any()
        proxy = pd.read_parquet(results / "scores" / pool / "proxy.parquet").merge(labels, on="id")
        scored = proxy[proxy["reason"].isna()]
        assert len(scored) and np.allclose(scored["score"], [
            utterance_wer(norm(p), norm(strip_timestamps(lab))) for p, lab in zip(
                scored["proxy_text"], scored["pseudo_label"], strict=True)])


@pytest.fixture(scope="module")
def toy_models_dir(tmp_path_factory):
    from tests.toy import write_toy_models

    folder = tmp_path_factory.mktemp("toy")
    paper = paper_config()
    paper["models"] = {m: paper["models"][m] for m in ("whisper-large-v2", "seamless-m4t-v2-large",
                                                       "seamless-m4t-medium", "mms-1b-all")}
    write_toy_models(folder, paper)
    return folder / "models"


@pytest.mark.parametrize("name,kind", [("whisper-large-v2", "whisper"), ("seamless-m4t-v2-large", "seamless_m4t_v2"),
                                       ("seamless-m4t-medium", "seamless_m4t"), ("mms-1b-all", "wav2vec2")])
def test_stand_in_models_transcribe_short_toy_words_in_arabic(toy_models_dir, name, kind):
    from tests.toy import WORDS, tone
    from udistil.labels.decoding import Transcriber
    from udistil.labels.decoding.factory import FAMILIES

    from .helpers import decode_options

    rng = np.random.default_rng(0)
    clips = [tone(1.0 + i / 4, rng) for i in range(4)] + [tone(31.0, rng)[:30 * 16000]]
    timestamps = kind == "whisper"
    t = Transcriber.load(str(toy_models_dir / name), decode_options(language="ar", max_new_tokens=444, batch_size=8,
                                                                    return_timestamps=timestamps),
                         device="cpu", precision="fp32", cache=None)
    assert type(t.decoder) is FAMILIES[kind]  # the factory picked the family's decoder
    texts = [h.text for h in t.transcribe(clips)]
    if kind == "wav2vec2":  # MMS: the Arabic adapter and vocabulary loaded; letters only, no words to shape
        assert t.decoder.language == "ara" and all(isinstance(x, str) for x in texts)
        return
    words = [w for x in texts for w in strip_timestamps(x).split()]
    assert words and set(words) <= set(WORDS) and max(len(strip_timestamps(x).split()) for x in texts) <= 12
    assert all(has_timestamps(x) for x in texts) == timestamps  # Whisper's pseudo-labelling path: timestamps kept


def test_toy_whisper_window_is_its_encoders(toy_models_dir):
    from transformers import AutoConfig, AutoFeatureExtractor

    from udistil.models.assets import window_seconds

    cfg = AutoConfig.from_pretrained(toy_models_dir / "whisper-large-v2")
    fe = AutoFeatureExtractor.from_pretrained(toy_models_dir / "whisper-large-v2")
    assert (cfg.encoder_layers, cfg.decoder_layers, cfg.d_model) == (32, 32, 16)
    assert window_seconds(cfg) == fe.chunk_length == 2 and fe.nb_max_frames == 2 * cfg.max_source_positions
    assert window_seconds(type(cfg)()) == 30  # openai's 1500 positions: the 30 s window of every real Whisper
