"""Distillation in several processes (torchrun, gloo on a CPU), the global batch, prefetching and determinism."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests import test_distill
from tests.helpers import train_config
from udistil.distill import ValidationConfig
from udistil.distill import batches as batches_module
from udistil.distill.batches import MicroBatches, Schedule, batch_indices, prefetch_loader
from udistil.distill.launch import distill_processes, launch_command, launch_env, to_spec
from udistil.distill.settings import accumulation_steps, batch_split
from udistil.distill.train import distill

ROOT = Path(__file__).resolve().parent.parent
training_setup = test_distill.training_setup  # the shared fixture: six clips, a 2-1 student of the random teacher


@pytest.mark.parametrize(("processes", "accum"), [(1, 8), (2, 4), (4, 2)])
def test_global_batch_is_kept_by_accumulation_under_1_2_and_4_processes(processes, accum):
    cfg = train_config(batch_size=16, global_batch_size=128)
    assert accumulation_steps(cfg, processes) == accum
    assert batch_split(cfg, processes).startswith(f"global batch 128 = 16 per micro-batch x {accum} accumulation")
    # without a global batch it grows with the processes, as before
    plain = train_config(batch_size=16, grad_accum=2)
    assert accumulation_steps(plain, processes) == 2
    assert batch_split(plain, processes).startswith(f"global batch {32 * processes} =")


def test_a_global_batch_that_does_not_divide_names_the_keys():
    with pytest.raises(ValueError, match=r"global_batch_size 128 .*batch_size 16 x 3 processes.*num_processes"):
        accumulation_steps(train_config(batch_size=16, global_batch_size=128), 3)
    with pytest.raises(ValueError, match=r"global_batch_size 8 .*batch_size 16"):
        accumulation_steps(train_config(batch_size=16, global_batch_size=8), 1)
    with pytest.raises(ValueError, match=r"grad_accum 2 contradicts students.training.global_batch_size"):
        accumulation_steps(train_config(batch_size=16, grad_accum=2, global_batch_size=128), 2)


def test_workers_share_the_jobs_threads_in_every_math_library(monkeypatch):
    """Snakemake sets MKL_NUM_THREADS (and the other libraries' counts) to the job's threads; each worker gets its
    share of every one, or the workers' MKL threads oversubscribe the cores."""
    from udistil.distill.launch import THREAD_VARIABLES

    for var in THREAD_VARIABLES:
        monkeypatch.setenv(var, "4")
    env = launch_env(train_config(num_processes=2), threads=4)
    assert {var: env[var] for var in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "2")
    assert "MKL_NUM_THREADS" in THREAD_VARIABLES
    assert launch_env(train_config(num_processes=8), threads=4)["MKL_NUM_THREADS"] == "1"


def test_the_launcher_of_n_processes_imports_no_training_code():
    """The distill job that launches N processes only writes their spec and waits: it imports neither torch nor
    transformers (seconds a job), which only the workers (udistil.distill.worker) and a one-process run need."""
    probe = ("import sys, udistil.distill.launch, udistil.distill.settings, udistil.common.logs; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'accelerate'}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    worker = subprocess.run([sys.executable, "-c", probe.replace("udistil.distill.launch", "udistil.distill.worker")],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    assert worker.stdout.strip() == "['accelerate', 'torch', 'transformers']"  # the probe sees an import


def test_schema_holds_the_new_defaults():
    from tests.helpers import filled_config

    cfg = filled_config()
    training = cfg["students"]["training"]
    assert (training["global_batch_size"], training["num_processes"], training["dataloader_workers"]) == (None, 1, 0)
    assert cfg["deterministic"] is False


def settings(tmp: Path, *, processes: int, cache_dir: Path, **overrides):
    """2 examples per micro-batch and process, a global batch of 4 (1 process: 2 accumulation steps)."""
    base = dict(learning_rate=3e-3, warmup_steps=1, scheduler="linear", max_steps=4, batch_size=2,
                global_batch_size=4, num_processes=processes, save_steps=2, timestamp_probability=0.0,
                condition_on_prev_probability=0.5, seed=5, cache={"mode": "on", "dir": str(cache_dir)})
    return train_config(**{**base, **overrides})


def validation_config():
    return ValidationConfig(every=2, patience=0, clips=2, normalizer="english",
                            decoding={"language": None, "task": "transcribe", "batch_size": 2, "num_beams": 1,
                                      "max_new_tokens": 4, "no_repeat_ngram_size": 0, "repetition_guard": True,
                                      "return_timestamps": False, "loader_workers": 0})


def arguments(tmp: Path, teacher: Path, out: Path, cfg, stop_after=None) -> dict:
    return dict(teacher=str(teacher), student_init=str(tmp / "init"), subset=tmp / "subset.parquet",
                manifest=tmp / "m.parquet", cfg=cfg, out_model=out / "model", out_curve=out / "loss.csv",
                out_run=out / "run.json", out_validation=out / "validation.csv", checkpoint_dir=out / "ckpt",
                validation=validation_config(), validation_manifest=tmp / "m.parquet", stop_after=stop_after)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model" / "model.safetensors")


def test_two_gloo_processes_draw_the_same_batches_and_curve_as_one_and_resume_exactly(
        training_setup, tiny_random_whisper, tmp_path, monkeypatch):
    tmp, _ = training_setup
    cache = tmp_path / "cache"
    # one process, 2 accumulation steps; the micro-batches it draws recorded
    drawn_one: dict[int, list[int]] = {}

    def recording(n, batch_size, micro_step, seed):
        drawn_one[micro_step] = batch_indices(n, batch_size, micro_step, seed)
        return drawn_one[micro_step]

    monkeypatch.setattr(batches_module, "batch_indices", recording)
    one = distill(**arguments(tmp, tiny_random_whisper, tmp_path / "one", settings(tmp, processes=1, cache_dir=cache)))
    monkeypatch.undo()
    assert one["processes"] == 1 and one["grad_accum_applied"] == 2

    # two processes, uninterrupted, through the rule's launcher
    two_cfg = settings(tmp, processes=2, cache_dir=cache)
    two = distill_processes(threads=torch.get_num_threads(),
                            **arguments(tmp, tiny_random_whisper, tmp_path / "two", two_cfg))
    assert two["processes"] == 2 and two["grad_accum_applied"] == 1 and two["steps"] == 4

    # two processes, stopped after 3 steps (checkpoint at 2), then resumed; batches drawn per process recorded
    runs = [{"kwargs": to_spec(arguments(tmp, tiny_random_whisper, tmp_path / "cut", two_cfg, stop_after)),
             "drawn": str(tmp_path / f"drawn-{name}")} for name, stop_after in (("cut", 3), ("resumed", None))]
    spec = tmp_path / "runs.json"
    spec.write_text(json.dumps({"runs": runs}))
    cmd = launch_command(processes=2, module="tests.distributed_driver", args=[str(spec)])
    done = subprocess.run(cmd, env=launch_env(two_cfg, torch.get_num_threads()), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    # the same micro-batches: process r drew micro-batches m = r (mod 2), together those of the single process
    two_drawn: dict[int, list[int]] = {}
    for rank in (0, 1):
        for name in ("cut", "resumed"):
            got = {int(m): idx for m, idx in json.loads(Path(f"{tmp_path}/drawn-{name}.rank{rank}.json").read_text())
                   .items()}
            assert all(m % 2 == rank for m in got)
            two_drawn.update(got)
    assert two_drawn == drawn_one and sorted(drawn_one) == list(range(8))
    assert (tmp_path / "cut" / "run.json").exists()
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["resumed_from"] == 2

    # the same loss curve (and learning rates) within float tolerance as one process
    a, b = pd.read_csv(tmp_path / "one" / "loss.csv"), pd.read_csv(tmp_path / "two" / "loss.csv")
    assert list(a.step) == list(b.step) == [1, 2, 3, 4]
    for col in ("loss", "ce", "kl", "lr"):
        assert (a[col] - b[col]).abs().max() < 1e-4, col
    one_w, two_w = weights(tmp_path / "one"), weights(tmp_path / "two")
    for k in one_w:
        torch.testing.assert_close(two_w[k], one_w[k], rtol=1e-4, atol=1e-5, msg=k)
    assert list(pd.read_csv(tmp_path / "two" / "validation.csv").step) == [0, 2, 4]  # decoded by the main process

    # killed after a checkpoint and resumed: the uninterrupted two-process run's weights, curve and validation
    resumed = weights(tmp_path / "cut")
    for k in two_w:
        assert torch.equal(resumed[k], two_w[k]), k
    for name in ("loss.csv", "validation.csv"):
        assert (tmp_path / "cut" / name).read_text() == (tmp_path / "two" / name).read_text()


def test_prefetched_micro_batches_are_those_made_in_process(training_setup, tiny_random_whisper):
    from transformers import AutoFeatureExtractor, AutoTokenizer

    from udistil.distill.batches import load_training_set
    from udistil.distill.labels import LabelBuilder

    tmp, _ = training_setup
    cfg = train_config(condition_on_prev_probability=0.5, timestamp_probability=0.0)
    builder = LabelBuilder(AutoTokenizer.from_pretrained(tmp / "init"), cfg)
    data, _ = load_training_set(tmp / "subset.parquet", tmp / "m.parquet", builder, cfg.max_label_length)
    fe = AutoFeatureExtractor.from_pretrained(tmp / "init")
    schedule = Schedule(n=len(data), batch_size=3, accum=1, processes=1, seed=7, epochs=True)
    common = dict(texts=data.pseudo_label.tolist(), paths=data.audio.tolist(), builder=builder, schedule=schedule)
    order = [5, 1, 2, 9]
    got = list(prefetch_loader(data=MicroBatches(**common, fe=fe), micro_batches=order, workers=2, seed=7))
    here = MicroBatches(**common)
    assert [g["m"] for g in got] == order
    for g in got:
        h = here[g["m"]]
        assert g["idx"] == h["idx"] and g["keys"] == h["keys"] and g["lengths"] == h["lengths"]
        assert torch.equal(g["dec"], h["dec"]) and torch.equal(g["labels"], h["labels"])
        single = torch.cat([fe([a], sampling_rate=16000, return_tensors="pt").input_features for a in h["audios"]])
        assert torch.equal(g["features"], single)  # featurised in the worker as the encoder would, clip by clip


def test_dataloader_workers_and_deterministic_mode_leave_a_cpu_run_unchanged(training_setup, tiny_random_whisper,
                                                                                tmp_path):
    tmp, _ = training_setup
    outs = {}
    for name, extra in {"plain": {}, "workers": {"dataloader_workers": 2}, "deterministic": {"deterministic": True}
                        }.items():
        cfg = settings(tmp, processes=1, cache_dir=tmp_path, max_steps=3, cache={"mode": "off"}, **extra)
        args = {**arguments(tmp, tiny_random_whisper, tmp_path / name, cfg), "validation": None,
                "validation_manifest": None}
        outs[name] = distill(**args)
        assert not torch.are_deterministic_algorithms_enabled()  # the previous setting is back
    plain = (tmp_path / "plain" / "loss.csv").read_text()
    for name in ("workers", "deterministic"):
        assert (tmp_path / name / "loss.csv").read_text() == plain, name
        got, ref = weights(tmp_path / name), weights(tmp_path / "plain")
        assert all(torch.equal(got[k], ref[k]) for k in ref), name


def test_a_trainable_encoders_features_are_computed_once_per_clip_and_step(training_setup, tiny_random_whisper,
                                                                             tmp_path, monkeypatch):
    """A trainable student encoder with no loader workers: each micro-batch's log-mel features are computed once,
    for the teacher's encoder and the student's (twice before), and the run is the one whose features the
    workers compute."""
    from transformers import WhisperFeatureExtractor

    tmp, _ = training_setup
    featurised, real = [], WhisperFeatureExtractor.__call__

    def counting(self, raw_speech, *args, **kwargs):
        featurised.append(len(raw_speech))
        return real(self, raw_speech, *args, **kwargs)

    monkeypatch.setattr(WhisperFeatureExtractor, "__call__", counting)
    clips = {}
    for name, extra in {"here": {}, "workers": {"dataloader_workers": 1}}.items():
        cfg = settings(tmp, processes=1, cache_dir=tmp_path, max_steps=2, freeze_encoder=False,
                       cache={"mode": "off"}, **extra)
        info = distill(**{**arguments(tmp, tiny_random_whisper, tmp_path / name, cfg), "validation": None,
                          "validation_manifest": None})
        assert not info["encoder_shared_and_frozen"]
        clips[name], featurised[:] = sum(featurised), []
    assert clips["here"] == 2 * 4  # 2 steps of 2 micro-batches of 2 clips, each featurised once
    assert clips["workers"] == 0  # the workers featurise in their own processes
    assert (tmp_path / "workers" / "loss.csv").read_text() == (tmp_path / "here" / "loss.csv").read_text()
    got, ref = weights(tmp_path / "workers"), weights(tmp_path / "here")
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_a_workers_process_group_is_destroyed_at_the_end(tmp_path):
    """udistil.distill.worker ends by destroying its process group (the two-process test's driver ends the same
    way, under gloo); without one up there is nothing to do."""
    import torch.distributed as dist

    from udistil.distill.worker import end_process_group

    end_process_group()
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    assert dist.is_initialized()
    end_process_group()
    assert not dist.is_initialized()


def test_slurm_profile_asks_for_a_gpu_per_distillation_process(tmp_path):
    import yaml

    from tests.test_workflow import snakemake

    cfg = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    cfg["students"]["training"].update(batch_size=16, global_batch_size=128, num_processes=8)
    (tmp_path / "paper8.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", "-d", str(tmp_path), "--configfile", str(tmp_path / "paper8.yaml"),
                    "--workflow-profile", str(ROOT / "profiles" / "slurm")).stdout
    distill_job = out.split("rule distill:")[1].split("\n\n")[0]
    assert "gpu=8" in distill_job and "nodes=1" in distill_job
