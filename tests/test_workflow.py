"""The Snakemake workflow through its command line: DAG, lint, config errors, and a smoke run end to end."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import job_counts, job_resources
from udistil.results.power import power_report
from udistil.results.recompute import recompute
from udistil.results.summary import claim_verdicts
from udistil.results.utterance_errors import Run

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(*args, cwd=ROOT, check=True):
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def test_default_dag_from_assets_to_matrix(tmp_path):
    counts = job_counts(snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "config.yaml")).stdout)
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    n_students = len(cfg["students"]["architectures"]) * len(cfg["pools"]) * len(cfg["filters"])
    n_models = 1 + len(cfg["evaluation"]["zero_shot"]) + n_students
    n_eval = len(cfg["evaluation"]["sets"]) * len(cfg["evaluation"]["splits"])
    assert counts["convert_model"] == 2 and counts["manifest"] == 1 + n_eval
    assert counts["pseudo_label_shard"] == counts["transcribe_pool_shard"] == cfg["pseudo_label"]["shards"]
    assert counts["distill"] == n_students == 8 and counts["select_subset"] == 8
    assert counts["evaluate"] == n_models  # one job per model over every set and split
    assert counts["result_matrix"] == 1 and counts["filter_analysis"] == 1


def test_clean_run_removes_one_runs_results_and_logs_only(tmp_path):
    """`make clean-run RUN=smoke` removes results/smoke/ and logs/smoke/ and nothing else (other runs, the shared
    models and cache); without RUN, or with a RUN that is no run name, it refuses. It never builds .venv."""
    folders = ["results/smoke", "results/other", "logs/smoke", "logs/other", "resources/models/m", "results/cache"]
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "file").write_text("x")

    def make(*args):
        return subprocess.run(["make", "-f", str(ROOT / "Makefile"), "-C", str(tmp_path), "clean-run", *args],
                              capture_output=True, text=True)

    for refused, why in ((make(), "name the run"), (make("RUN="), "not a run name"),
                         (make("RUN=../logs"), "not a run name")):
        assert refused.returncode != 0 and why in refused.stderr, refused.stderr
    assert all((tmp_path / f / "file").exists() for f in folders)
    done = make("RUN=smoke")
    assert done.returncode == 0, done.stderr
    assert sorted(f for f in folders if (tmp_path / f).exists()) == sorted(set(folders) - {"results/smoke",
                                                                                          "logs/smoke"})
    assert not (tmp_path / ".venv").exists()  # no bootstrap


def test_lint_is_clean():
    proc = snakemake("--lint")  # exits non-zero on any lint
    assert "Congratulations" in proc.stdout + proc.stderr


def test_bad_config_fails_before_any_job_naming_the_key(tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    cfg["filters"].append("vibes")
    cfg["decoding"]["beams"] = 4
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "-d", str(tmp_path), "--configfile", str(bad), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'filters.8'" in out and "vibes" in out
    assert "config key 'decoding'" in out and "'beams' was unexpected" in out
    assert not (tmp_path / "results").exists()


MINIMAL = ROOT / "configs" / "minimal.yaml"
SMOKE = ROOT / "configs" / "smoke.yaml"


@pytest.mark.slow
def test_minimal_config_runs_on_schema_defaults(tmp_path):
    snakemake("--cores", "2", "-d", str(tmp_path), "--configfile", str(MINIMAL))
    matrix = pd.read_csv(tmp_path / "results" / "minimal" / "tables" / "result_matrix.csv")
    assert matrix["model"].tolist() == ["tiny-teacher"]  # no zero-shot rows, no students: nothing of the demo's
    assert sorted(p.name for p in (tmp_path / "resources" / "models").iterdir()) == ["tiny-teacher"]
    subsets = tmp_path / "results" / "minimal" / "subsets" / "pool"
    assert {p.stem for p in subsets.glob("*.json")} == {"none", "supervised"}
    used = yaml.safe_load((tmp_path / "results" / "minimal" / "config.yaml").read_text())
    assert used["decoding"]["max_new_tokens"] == 128 and used["efficiency"]["clips"] == 16  # schema defaults


def test_user_config_does_not_inherit_the_demo(tmp_path):
    """A --configfile replaces profiles/default's `configfile: config.yaml` (a command-line option overrides the
    profile's): keys that config.yaml sets and the given config lacks take the schema's default. A Snakemake that
    merged the two again would fail here."""
    snakemake("results/minimal/config.yaml", "--cores", "1", "-d", str(tmp_path), "--configfile", str(MINIMAL))
    used = yaml.safe_load((tmp_path / "results" / "minimal" / "config.yaml").read_text())
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert "run" not in yaml.safe_load(MINIMAL.read_text()) and demo["run"] == "demo"
    assert used["run"] == "minimal" and used["description"] is None and demo["description"]  # not the demo's
    assert not (tmp_path / "results" / "demo").exists()
    assert set(used["models"]) == {"tiny-teacher"} and used["scores"] == {}
    assert used["efficiency"]["clips"] != demo["efficiency"]["clips"]
    assert used["decoding"]["max_new_tokens"] != demo["decoding"]["max_new_tokens"]
    counts = job_counts(snakemake("-n", "-d", str(tmp_path), "--configfile", str(MINIMAL)).stdout)
    assert "transcribe_pool_shard" not in counts and "distill" not in counts and counts["convert_model"] == 1


def test_demo_runs_when_no_config_is_given(tmp_path):
    snakemake("--cores", "1", "-d", str(tmp_path), "results/demo/config.yaml")
    used = yaml.safe_load((tmp_path / "results" / "demo" / "config.yaml").read_text())
    assert used["teacher"] == "whisper-base" and used["efficiency"]["clips"] == 6


def test_missing_score_section_fails_before_any_job_naming_the_key(tmp_path):
    cfg = yaml.safe_load(MINIMAL.read_text())
    cfg["filters"] = ["none", "supervised", "proxy"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "-d", str(tmp_path), "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    assert "config key 'scores.proxy': missing; filter 'proxy'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.slow
def test_smoke_run_end_to_end_and_tables_regenerate_identically(tmp_path):
    done = snakemake("--cores", "2", "-d", str(tmp_path), "--configfile", str(SMOKE))
    run = tmp_path / "results" / "smoke"
    tables = run / "tables"
    matrix = pd.read_csv(tables / "result_matrix.csv")
    assert len(matrix) == 2 + 8 and set(matrix.group) == {"teacher", "zero-shot", "no-filter", "supervised",
                                                          "label-free"}
    assert (matrix["filter"] == "sonar*").sum() == 1  # the offline stand-in is marked
    for name in ("filter_auc.csv", "efficiency.csv", "paper_claims.md", "result_matrix.tex", "pool_conditions_pool.md"):
        assert (tables / name).stat().st_size > 0
    curves = pd.read_csv(tables / "learning_curves.csv")
    assert curves.groupby("student")["step"].apply(list).map(lambda s: s[0] == 0 and len(s) >= 2).all()
    assert len(curves.student.unique()) == 8 and curves.groupby("student")["kept"].sum().eq(1).all()
    conditions = pd.read_csv(tables / "pool_conditions_pool.csv")
    assert conditions.set_index(["condition", "voice"]).loc[("all", "all"), "clips"] == 12
    for plot in ("filter_roc.png", "wer_by_filter.png", "score_vs_wer.png", "wer_vs_speed.png", "learning_curves.png"):
        assert (run / "plots" / plot).read_bytes()[:4] == b"\x89PNG"
    report = (run / "report.html").read_text(errors="replace")
    assert "claims: results/smoke/tables/paper_claims.md" in done.stdout + done.stderr  # onsuccess: the summary
    verdicts = claim_verdicts((tables / "paper_claims.md").read_text())
    assert verdicts and all(f"[{v}] {c} ({s}" in done.stdout + done.stderr for v, c, s in verdicts)
    assert "detectable at 80% power: " in done.stdout + done.stderr
    run_tools_on_a_finished_run(run)
    assert "result_matrix.csv" in report and "filter_roc.png" in report  # snakemake --report, built in the run
    auc_log = (tmp_path / "logs" / "smoke" / "select" / "filter_analysis.log").read_text()
    assert all(f" {s}" in auc_log for s in ("proxy", "conf", "entropy", "nnll", "pesq", "sonar*"))
    proxy = "student-2-1-pool-proxy-s7"  # the smoke config's seed 7 is its one training seed
    record = yaml.safe_load((run / "students" / proxy / "run.json").read_text())
    assert record["teacher_encoder_passes_per_clip"] == 0.0  # states came from pseudo-labelling's cache
    assert record["teacher_encoder_passes_per_clip_all_jobs"] == {"mean": 1.0, "max": 1}  # once in the whole run
    released = run / "release" / proxy
    card = (released / "README.md").read_text()
    bench = matrix.set_index("model").loc["student-2-1-pool-proxy", "bench_test"]  # its cell: the mean of one seed
    assert f"| bench_test | {bench:.2f} |" in card and "## Layer map" in card and "## Training" in card
    model_file = released / "model.safetensors"
    trained = run / "students" / proxy / "model"
    assert model_file.samefile(trained / "model.safetensors") \
        or model_file.read_bytes() == (trained / "model.safetensors").read_bytes()
    marker = trained / ".snakemake_timestamp"
    assert not (released / ".snakemake_timestamp").samefile(marker)  # each folder keeps its own timestamp
    card_metrics_are_the_evaluations(run, proxy)
    datasets_are_the_selections(run, "pool")
    # temp(): the shards (gathered) are gone
    assert not [*run.glob("pseudo_labels/*/shard*"), *run.glob("transcripts/*/*/shard*")]
    rerun = snakemake("-n", "--cores", "2", "-d", str(tmp_path), "--configfile", str(SMOKE))
    assert "Nothing to be done" in rerun.stdout + rerun.stderr  # a finished run stays finished, without them
    before = digest(sorted(tables.glob("*")) + sorted((run / "plots").glob("*.png")))
    snakemake("--cores", "2", "-d", str(tmp_path), "--configfile", str(SMOKE),
              "--forcerun", "result_matrix", "filter_analysis", "paper_comparison", "plots", "learning_curves",
              "pool_conditions")
    after = digest(sorted(tables.glob("*")) + sorted((run / "plots").glob("*.png")))
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed <= {"efficiency.csv", "efficiency.md", "wer_vs_speed.png"}, changed  # timings are measured
    assert "paper_claims.md" in before and "efficient" not in (tables / "paper_claims.md").read_text()
    second_run_leaves_the_first_intact(tmp_path, digest(sorted(tables.glob("*.csv"))))


def card_metrics_are_the_evaluations(run, student):
    """The release card's model-index: WER and CER of every evaluated set and split, the evaluations' numbers."""
    import json

    from huggingface_hub import ModelCard

    results = ModelCard.load(run / "release" / student / "README.md").data.eval_results
    got = {(r.dataset_name, r.dataset_split, r.metric_type): r.metric_value for r in results}
    evaluated = {(p.parent.name, p.stem): json.loads(p.read_text()) for p in (run / "eval" / student).glob("*/*.json")}
    assert len(evaluated) == 4 and got == {(c, s, u): m[u] for (c, s), m in evaluated.items() for u in ("wer", "cer")}


def datasets_are_the_selections(run, pool):
    """The exported datasets load: the pool's ids are its manifest's, with its clips' audio; each filter's are its
    subset's."""
    import io

    import datasets
    import soundfile as sf

    manifest = pd.read_parquet(run / "manifests" / pool / "train.parquet")
    ds = datasets.load_from_disk(str(run / "datasets" / pool / "all"))
    assert ds["id"][:] == manifest["id"].tolist()
    assert {"score_proxy", "score_sonar", "score_wer", "whisper_transcript", "text"} <= set(ds.column_names)
    raw = ds.cast_column("audio", datasets.Audio(decode=False))
    workdir = run.parent.parent  # the manifest's paths are relative to the run's working directory
    for row, clip in zip(raw, manifest["audio"], strict=True):
        assert (sf.read(io.BytesIO(row["audio"]["bytes"]))[0] == sf.read(workdir / clip)[0]).all()
    filters = sorted(p.stem for p in (run / "subsets" / pool).glob("*.parquet"))
    assert len(filters) == 8
    for name in filters:
        subset = datasets.load_from_disk(str(run / "datasets" / pool / name))
        assert subset["id"][:] == pd.read_parquet(run / "subsets" / pool / f"{name}.parquet")["id"].tolist()


def run_tools_on_a_finished_run(run):
    """The error table gives comparisons.csv's interval to the last digit, and the power tool reads the run's own
    benchmark files."""
    finished = Run.read(run)
    pairs = pd.read_csv(run / "tables" / "comparisons.csv")
    row = pairs[(pairs["set"] == "bench") & (pairs["split"] == "test")].iloc[0]
    r = recompute(finished, row["student"], row["other"])
    assert (r["difference"], r["lo"], r["hi"]) == (row["difference"], row["lo"], row["hi"])
    text = power_report(finished)
    assert "detectable at 80% power" in text and "cost unknown" not in text and " s per student" in text


def second_run_leaves_the_first_intact(tmp_path, tables_before):
    """Another config (smoke with its own run name, two filters and another seed) in the same working directory:
    both runs keep their matrices and students; the converted models in resources/ are shared."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg.update(run="smoke-b", seed=cfg["seed"] + 1, filters=["none", "supervised"])
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(cfg))  # its keys sorted: the same model specs in another key order
    models = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "resources" / "models").iterdir()}
    snakemake("--cores", "2", "-d", str(tmp_path), "--configfile", str(other))
    first, second = tmp_path / "results" / "smoke", tmp_path / "results" / "smoke-b"
    assert digest(sorted((first / "tables").glob("*.csv"))) == tables_before
    assert len(list((first / "students").glob("student-*/run.json"))) == 8
    assert sorted(p.parent.name for p in (second / "students").glob("student-*/run.json")) == \
        [f"student-2-1-pool-none-s{cfg['seed']}", f"student-2-1-pool-supervised-s{cfg['seed']}"]
    matrix = pd.read_csv(second / "tables" / "result_matrix.csv")
    assert matrix["model"].tolist()[-2:] == ["student-2-1-pool-none", "student-2-1-pool-supervised"]
    assert yaml.safe_load((second / "config.yaml").read_text())["seed"] == cfg["seed"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "resources" / "models").iterdir()} == models
    assert (tmp_path / "logs" / "smoke-b" / "config.log").exists()
    rerun = snakemake("-n", "-d", str(tmp_path), "--configfile", str(SMOKE))
    assert "Nothing to be done" in rerun.stdout + rerun.stderr  # the second run made nothing of the first stale


def test_slurm_profile_maps_resources_for_the_paper_config(tmp_path):
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "configs" / "paper.yaml"),
                    "--workflow-profile", str(ROOT / "profiles" / "slurm")).stdout
    distill = out.split("rule distill:")[1].split("\n\n")[0]
    assert "gpu=8" in distill and "mem_mb=128000" in distill and "runtime=2880" in distill  # torchrun x 8
    manifest_job = out.split("rule manifest:")[1].split("\n\n")[0]
    assert "gpu=" not in manifest_job.split("resources:")[1].split("\n")[0]


GPU_RULES = {"pseudo_label_shard", "transcribe_pool_shard", "distill", "evaluate", "score_nnll", "score_sonar",
             "efficiency"}
"""The rules whose jobs run a model on the config's device."""


def test_gpu_config_plans_here_with_a_gpu_for_every_model_job(tmp_path):
    """configs/gpu.yaml (hub models and corpora, device cuda) plans on this GPU-less machine; every job that runs a
    model asks for gpu=1, so profiles/default's cap of one keeps them off each other; no other job asks."""
    cfg = yaml.safe_load((ROOT / "configs" / "gpu.yaml").read_text())
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "configs" / "gpu.yaml")).stdout
    jobs = job_resources(out)
    counts = job_counts(out)
    assert cfg["device"] == "cuda" and cfg["precision"] == "bf16" and not cfg["offline"]
    assert {m["hub"] for m in cfg["models"].values()} >= {"openai/whisper-large-v3", "facebook/seamless-m4t-v2-large"}
    assert counts["distill"] == 8 and counts["pseudo_label_shard"] == counts["transcribe_pool_shard"] == 4
    assert counts["evaluate"] == 1 + 2 + 8 and counts["score_sonar"] == counts["score_nnll"] == 1
    assert "convert_model" not in counts  # hub models: nothing to build
    assert {r for r, _ in jobs} >= GPU_RULES
    wrong = [(r, res.get("gpu")) for r, res in jobs if (res.get("gpu") == "1") != (r in GPU_RULES)]
    assert not wrong, f"jobs whose gpu request is wrong: {wrong}"


def test_evidence_gpu_config_plans_the_evidence_design_at_its_power_size(tmp_path):
    """configs/evidence-gpu.yaml is the evidence run's design (its packaged models and training) with the seeds and
    test clips the power tool asked for, and LibriSpeech from the hub as its recorded speech: it plans here, trains
    every filter with every seed, and every model job asks for a GPU."""
    cfg = yaml.safe_load((ROOT / "configs" / "evidence-gpu.yaml").read_text())
    cpu = yaml.safe_load((ROOT / "configs" / "evidence.yaml").read_text())
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "configs" / "evidence-gpu.yaml")).stdout
    counts = job_counts(out)
    assert cfg["device"] == "cuda" and not cfg["offline"] and cfg["filters"] == cpu["filters"]
    assert cfg["models"] == cpu["models"] and cfg["corpora"]["real"]["type"] == "hf"
    assert all(cfg["corpora"][c]["splits"]["test"] > cpu["corpora"][c]["splits"]["test"] for c in ("clean", "noisy"))
    assert cfg["students"]["training"] == cpu["students"]["training"]  # the variance the tool measured transfers
    seeds = len(cfg["students"]["seeds"])
    assert seeds > len(cpu["students"]["seeds"])
    assert counts["distill"] == len(cfg["filters"]) * seeds
    assert counts["evaluate"] == 1 + len(cfg["evaluation"]["zero_shot"]) + len(cfg["filters"]) * seeds
    wrong = [(r, res.get("gpu")) for r, res in job_resources(out) if (res.get("gpu") == "1") != (r in GPU_RULES)]
    assert not wrong, f"jobs whose gpu request is wrong: {wrong}"


PAPER_STUDENTS = sorted(
    [f"student-{a}-masc100k-{f}-s42" for a in ("16-16", "32-16")
     for f in ("none", "supervised", "proxy", "sonar", "conf", "entropy", "nnll", "pesq")]
    + [f"student-{a}-masc500k-{f}-s42" for a in ("16-16", "32-16") for f in ("supervised", "proxy", "sonar")])


def test_paper_config_dag_has_the_papers_students(tmp_path):
    """Table 1's students: 8 filters x 2 architectures on the 100K pool, the "++" rows (supervised, proxy,
    sonar) x 2 on the 500K pool; every job of the paper's DAG, offline."""
    cfg = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "configs" / "paper.yaml")).stdout
    counts = job_counts(out)
    students = sorted(set(re.findall(r"results/paper/students/(student-[^/\s]+)/run\.json", out)))
    assert students == PAPER_STUDENTS and len(students) == 22
    sets, splits = cfg["evaluation"]["sets"], cfg["evaluation"]["splits"]
    zero_shot = len(cfg["evaluation"]["zero_shot"])
    assert zero_shot == 7 and counts["category_tables"] == 1
    assert counts["distill"] == counts["release_model"] == 22 and counts["init_student"] == 2
    assert counts["evaluate"] == 1 + zero_shot + 22
    assert counts["pseudo_label_shard"] == counts["transcribe_pool_shard"] == 2 * cfg["pseudo_label"]["shards"]
    assert counts["gather_pseudo_labels"] == 2
    assert counts["select_subset"] == 8 + 3  # the 100K pool's 8 filters, the 500K pool's 3
    # proxy, sonar and the supervised WER on both pools; the other label-free scores only on the 100K pool
    assert counts["score_proxy"] == counts["score_sonar"] == counts["score_wer"] == counts["gather_transcripts"] == 2
    assert counts["score_teacher_stat"] == 2 and counts["score_nnll"] == counts["score_pesq"] == 1
    assert counts["manifest"] == 2 + len(sets) * len(splits)
    assert "convert_model" not in counts  # hub models: nothing to build


def test_paper_dag_evaluates_every_zero_shot_model_with_public_weights(tmp_path):
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(ROOT / "configs" / "paper.yaml")).stdout
    evaluated = set(re.findall(r"^rule evaluate:\n(?:.*\n)*?\s+wildcards: model=(\S+)", out, re.M))
    cfg = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    zero_shot = {"whisper-small": "W-S", "whisper-medium": "W-M", "whisper-large-v3": "W-L-v3",
                 "seamless-m4t-medium": "SM4T-M", "seamless-m4t-large": "SM4T-L-v1",
                 "seamless-m4t-v2-large": "SM4T-L-v2", "mms-1b-all": "MMS-all"}  # Table 1's rows with weights
    assert set(zero_shot) | {"whisper-large-v2"} <= evaluated
    assert cfg["paper"]["zero_shot"] == zero_shot and cfg["models"]["mms-1b-all"] == {"hub": "facebook/mms-1b-all"}
    published = pd.read_csv(ROOT / "paper" / "table1.csv")
    no_weights = set(published.loc[published["group"] == "zero-shot", "model"]) - set(zero_shot.values())
    assert no_weights == {"Amazon", "XLS-R", "HuBERT", "W-FT"}  # published-only in paper_vs_run.csv
    assert "rule category_tables:" in out  # Table 3 beside the paper's
    assert cfg["evaluation"]["decoding"]["long_clips"] == "first_window"
    assert "category_tables" not in snakemake("-n", "-d", str(tmp_path / "demo")).stdout  # the demo: unchanged
