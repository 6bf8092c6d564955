import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import train_config
from udistil.common.determinism import deterministic_mode
from udistil.config.validate import filled
from udistil.corpora.manifest import Record, build_manifest
from udistil.distill import TrainConfig, ValidationConfig
from udistil.distill.batches import Schedule, batch_indices
from udistil.distill.loss import distill_loss, kl_loss, label_rows
from udistil.distill.student import init_student, layer_map, parse_arch
from udistil.distill.train import distill
from udistil.distill.validation import Curve


def test_layer_maps_follow_distil_whisper():
    assert layer_map(32, 16) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 31]
    assert layer_map(32, 8) == [0, 4, 8, 13, 17, 22, 26, 31]
    assert layer_map(6, 3) == [0, 2, 5]
    assert layer_map(32, 32) == list(range(32)) and layer_map(6, 1) == [5]
    assert parse_arch("32-16") == (32, 16)
    with pytest.raises(ValueError):
        layer_map(4, 6)


def test_kl_is_zero_when_student_is_teacher():
    logits = torch.randn(2, 5, 11)
    rows = label_rows(torch.tensor([[1, 2, 3, -100, -100], [4, 5, 6, 7, 8]]))
    assert rows.tolist() == [0, 1, 2, 5, 6, 7, 8, 9]
    assert kl_loss(logits, logits.clone(), rows, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_loss(logits, torch.randn(2, 5, 11), rows, 2.0).item() > 0


def padded_batch(gen: torch.Generator, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (batch, width, vocab) logits and labels right-padded with -100 to random lengths (one at least)."""
    batch, width = (int(torch.randint(1, n, (1,), generator=gen)) for n in (9, 80))
    logits = torch.randn(batch, width, vocab, generator=gen) * 3
    labels = torch.randint(0, vocab, (batch, width), generator=gen)
    for b in range(batch):
        labels[b, int(torch.randint(0, width + 1, (1,), generator=gen)):] = -100
    labels[0, 0] = max(int(labels[0, 0]), 0)
    return logits, labels


def old_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The formula before: 3-D cross-entropy, which is nll_loss2d (no deterministic CUDA kernel)."""
    return torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100)


@pytest.mark.parametrize("vocab", [7, 1000, 51865])
def test_cross_entropy_on_2d_rows_is_the_3d_formula_bit_for_bit(vocab):
    gen = torch.Generator().manual_seed(vocab)
    cfg = train_config()
    for _ in range(3 if vocab > 1000 else 25):
        logits, labels = padded_batch(gen, vocab)
        old, new = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        ref = old_cross_entropy(old, labels)
        (cfg.ce_weight * ref).backward()
        got = distill_loss(new, logits, labels, cfg)["ce"]
        (cfg.ce_weight * got).backward()
        assert torch.equal(got, ref) and torch.equal(new.grad, old.grad)


def test_a_training_step_under_deterministic_algorithms_runs_no_nll_loss2d(tiny_random_whisper):
    """A step (forward, loss, backward, AdamW) with torch.use_deterministic_algorithms(True): the loss is the old
    formula's, and no 2-D NLL kernel runs (on CUDA it raises in this mode; on a CPU it does not, so the test looks
    at the kernels the step ran)."""
    from transformers import WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    dec = torch.randint(0, model.config.vocab_size, (3, 9), generator=gen)
    labels = torch.cat([dec[:, 1:], torch.full((3, 1), -100)], 1)
    labels[1, 4:] = -100
    features = torch.randn(3, model.config.num_mel_bins, 3000, generator=gen)
    with deterministic_mode(True), torch.profiler.profile() as prof:
        assert torch.are_deterministic_algorithms_enabled()
        logits = model(input_features=features, decoder_input_ids=dec).logits
        teacher = logits.detach() + torch.randn(logits.shape, generator=gen)
        losses = distill_loss(logits, teacher, labels, train_config())
        losses["loss"].backward()
        optimiser.step()
    kernels = {e.name for e in prof.events()}
    assert "aten::nll_loss_forward" in kernels and not any("nll_loss2d" in k for k in kernels)
    assert torch.equal(losses["ce"], old_cross_entropy(logits.detach(), labels))


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")  # accelerate's patch
@pytest.mark.parametrize("fused", [False, True])
def test_a_step_the_grad_scaler_skips_does_not_advance_the_schedule(fused):
    """fp16: an overflowing step is skipped by the grad scaler, and the learning-rate schedule must not advance.
    accelerate's `step_was_skipped` sees the skip of a plain AdamW but not of a fused one (the GPU's), whose
    kernel skips the update itself; the trainer reads the scaler's scale instead. A real scaler and AdamW, on the
    CPU."""
    from types import SimpleNamespace

    from accelerate import Accelerator
    from accelerate.optimizer import AcceleratedOptimizer
    from transformers import get_scheduler

    from udistil.distill.train import Trainer

    Accelerator(cpu=True)  # accelerate's process state, as every run has it (the CPU runs' settings)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    wrapped = AcceleratedOptimizer(optimizer, device_placement=False, scaler=scaler)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0, num_training_steps=100)
    trainer = Trainer(cfg=None, accelerator=SimpleNamespace(scaler=scaler), student=model, optimizer=wrapped,
                      scheduler=scheduler, t_encoder=None, s_encoder=None, targets=None,
                      data=SimpleNamespace(keys={}, paths=[]), shared=True, frozen=True)

    def step(overflow: bool) -> bool:
        """One scaled backward and optimiser step: whether the weights moved."""
        scaler.scale(model(torch.ones(1, 4)).sum()).backward()
        if overflow:
            model.weight.grad[0, 0] = float("inf")
        before = model.weight.detach().clone()
        trainer.optimizer_step()
        return not torch.equal(before, model.weight)

    assert step(overflow=False) and scheduler.last_epoch == 1
    assert not step(overflow=True) and scaler.get_scale() == 512.0  # skipped, the scale backed off
    assert scheduler.last_epoch == 1  # the schedule stayed where it was
    assert wrapped.step_was_skipped is not fused  # what accelerate alone would have said
    assert step(overflow=False) and scheduler.last_epoch == 2
    assert model.weight.grad is None or not model.weight.grad.any()  # gradients cleared after each step


def test_features_stacked_for_a_gpu_are_pinned_after_stacking(monkeypatch):
    """Workers hand over features pinned one batch at a time; the stack the encoder runs on is a new tensor, so it
    is pinned itself before its copy to the GPU (which then does not hold up the host). On a CPU nothing is
    pinned. The GPU is mocked: `to(cuda)` is recorded, not run."""
    from udistil.models.encoder_cache import Encoder

    calls = []
    real_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        if args and isinstance(args[0], torch.device) and args[0].type == "cuda":
            calls.append(("to", args[1], kwargs.get("non_blocking")))
            return self
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: calls.append(("pin", tuple(self.shape))) or self)
    monkeypatch.setattr(torch.Tensor, "to", to)
    audios = [np.zeros(10, np.float32) for _ in range(3)]
    for device in ("cuda", "cpu"):
        enc = Encoder(None, None, torch.device(device), torch.bfloat16)
        enc.use_features(audios, torch.zeros(3, 80, 30))
        got = enc.features(audios[1:])
    assert calls == [("pin", (2, 80, 30)), ("to", torch.bfloat16, True)]  # the CPU encoder: neither
    assert got.dtype == torch.bfloat16 and got.shape == (2, 80, 30)


def test_batches_are_a_function_of_seed_and_step():
    a = [batch_indices(10, 4, m, seed=3) for m in range(6)]
    assert a == [batch_indices(10, 4, m, seed=3) for m in range(6)]
    first_epoch = a[0] + a[1] + a[2][:2]
    assert sorted(first_epoch) == list(range(10))


def test_stream_schedule_draws_full_global_batches_across_epochs():
    s = Schedule(n=10, batch_size=4, accum=2, processes=2, seed=3)
    assert s.micro_batches(1, process=1) == [5, 7] and s.micro_batches(1, process=0) == [4, 6]
    assert s.indices(5) == batch_indices(10, 4, 5, seed=3)
    assert s.steps_per_epoch == 1


@pytest.mark.parametrize(("n", "batch_size", "accum", "processes"),
                         [(2, 16, 4, 2), (10, 4, 2, 1), (10, 4, 1, 2), (37, 4, 3, 2), (64, 16, 2, 2), (5, 2, 2, 3)])
def test_epoch_schedule_passes_over_the_set_once_per_epoch_with_a_short_last_step(n, batch_size, accum, processes):
    s = Schedule(n=n, batch_size=batch_size, accum=accum, processes=processes, seed=7, epochs=True)
    real = -(-n // batch_size)  # micro-batches that hold the epoch's examples
    for epoch in range(3):
        steps = range(epoch * s.steps_per_epoch, (epoch + 1) * s.steps_per_epoch)
        drawn = [[s.micro_batches(step, p) for p in range(processes)] for step in steps]
        for per_step in drawn:  # every process draws as many micro-batches in a step, at most accum
            assert len({len(ms) for ms in per_step}) == 1 and 1 <= len(per_step[0]) <= accum
        ms = sorted(m for per_step in drawn for ms in per_step for m in ms)
        assert ms == list(range(epoch * s.per_process * processes, (epoch + 1) * s.per_process * processes))
        examples = [i for m in ms[:real] for i in s.indices(m)]
        assert sorted(examples) == list(range(n))  # each example once per epoch
        order = np.random.default_rng([7, epoch]).permutation(n).tolist()
        assert examples == order  # in the epoch's seeded order
        for m in ms[real:]:  # even-batches fills repeat the order's first examples
            assert s.indices(m) == order[:batch_size]
    # the number of steps per epoch is the number the run's length is computed from
    assert s.steps_per_epoch == -(-n // (batch_size * accum * processes))
    assert len(drawn[-1][0]) == s.per_process - (s.steps_per_epoch - 1) * accum


def test_epoch_schedule_of_a_set_smaller_than_the_global_batch_is_one_short_step():
    s = Schedule(n=2, batch_size=16, accum=4, processes=2, seed=0, epochs=True)
    assert s.steps_per_epoch == 1
    assert s.micro_batches(0, 0) == [0] and s.micro_batches(0, 1) == [1] and s.micro_batches(3, 1) == [7]
    assert sorted(s.indices(0)) == [0, 1] and sorted(s.indices(1)) == [0, 1]  # a fill: the same two clips


@pytest.fixture(scope="module")
def training_setup(tmp_path_factory, tiny_random_whisper):
    tmp = tmp_path_factory.mktemp("distill")
    rng = np.random.default_rng(0)
    texts = ["the cat sat", "a dog ran far", "birds sing", "the sun is hot", "rain falls", "we walk home"]
    records = [Record(id=f"u{i}", source=(rng.standard_normal(8000 + 1000 * i) * 0.1).astype(np.float32), text=t)
               for i, t in enumerate(texts)]
    build_manifest(records=records, corpus="pool", split="train", audio_dir=tmp / "audio",
                   manifest_path=tmp / "m.parquet", rejected_path=tmp / "r.tsv")
    pd.DataFrame({"id": [f"u{i}" for i in range(6)], "pseudo_label": texts, "score": 0.0,
                  "duration_s": 1.0}).to_parquet(tmp / "subset.parquet")
    maps = init_student(teacher=str(tiny_random_whisper), encoder_layers=2, decoder_layers=1, out_dir=tmp / "init")
    return tmp, maps


def run(tmp, teacher, out, steps=8, stop_after=None, lr=3e-3, cache="on", cache_dir=None, validation=None,
        **settings):
    cfg = train_config(learning_rate=lr, warmup_steps=0, max_steps=steps, batch_size=3, save_steps=2,
                       timestamp_probability=0.0, condition_on_prev_probability=0.5, seed=5,
                       cache={"mode": cache, "dir": str(cache_dir or tmp / "cache")}, **settings)
    return distill(teacher=str(teacher), student_init=str(tmp / "init"), subset=tmp / "subset.parquet",
                   manifest=tmp / "m.parquet", cfg=cfg, out_model=out / "model", out_curve=out / "loss.csv",
                   out_run=out / "run.json", out_validation=out / "validation.csv", checkpoint_dir=out / "ckpt",
                   validation=validation, validation_manifest=tmp / "m.parquet" if validation else None,
                   stop_after=stop_after)


def validation_config(every=2, patience=0):
    return ValidationConfig(every=every, patience=patience, clips=4, normalizer="english",
                            decoding={"language": None, "task": "transcribe", "batch_size": 4, "num_beams": 1,
                                      "max_new_tokens": 8, "no_repeat_ngram_size": 0, "repetition_guard": True,
                                      "return_timestamps": False, "loader_workers": 0})


def test_curve_keeps_the_earliest_lowest_wer_and_counts_stale_evaluations():
    curve = Curve()
    assert curve.add(0, 90.0) and not curve.add(2, 95.0)
    assert curve.add(4, 80.0) and not curve.add(6, 80.0)  # a tie is not an improvement
    assert curve.best() == {"step": 4, "wer": 80.0} and curve.stale() == 1
    assert not curve.should_stop(2) and not curve.should_stop(0)
    curve.add(8, 81.0)
    assert curve.should_stop(2) and not curve.should_stop(3)


def test_curve_counts_only_gains_above_the_minimum_improvement():
    # the noisy curve: 11.1, 9.0, 11.1, 6.9, 11.1, 7.9 (one word of 189 is 0.53 points)
    noisy = [(0, 11.1), (40, 9.0), (80, 11.1), (120, 6.9), (160, 11.1), (200, 7.9)]
    plain, careful = Curve(), Curve(min_delta=2.5)
    for step, value in noisy:
        plain.add(step, value)
        careful.add(step, value)
    assert plain.best()["step"] == 120 and careful.best()["step"] == 120  # 11.1 -> 6.9 gains 4.2 > 2.5
    curve = Curve(min_delta=2.5)
    assert curve.add(0, 11.1) and not curve.add(40, 9.0)  # 2.1 points: below the minimum, no improvement
    assert not curve.add(80, 8.6)  # 2.5 exactly: still no improvement (the gain must exceed min_delta)
    assert curve.best() == {"step": 0, "wer": 11.1} and curve.stale() == 2 and curve.should_stop(2)
    assert curve.add(120, 8.5)  # 2.6 points below the best
    assert not curve.add(160, 8.5) and curve.stale() == 1  # a tie is no improvement either
    assert not curve.add(200, 6.1) and curve.best()["step"] == 120  # 2.4 below 8.5: not enough
    assert curve.should_stop(2) and not curve.should_stop(3)


def test_learning_curves_mark_the_step_the_rule_kept(tmp_path):
    from udistil.results.tables import learning_curves

    path = tmp_path / "validation.csv"
    pd.DataFrame({"step": [0, 40, 80], "wer": [11.1, 9.0, 10.0]}).to_csv(path, index=False)
    assert learning_curves({"s": path})["kept"].tolist() == [False, True, False]
    assert learning_curves({"s": path}, min_delta=2.5)["kept"].tolist() == [True, False, False]


def test_validation_standard_error_by_bootstrap():
    from udistil.distill.validation import wer_stderr

    refs = ["a b c d e"] * 40
    hyps = ["a b c d e"] * 20 + ["x b c d e"] * 20  # half the clips 20% wrong: WER 10, SE about 10 / sqrt(40)
    assert wer_stderr(refs, hyps) == pytest.approx(10 / np.sqrt(40), rel=0.15)
    assert wer_stderr(refs, refs) == 0.0


def test_validation_curve_early_stopping_and_best_weights(training_setup, tiny_random_whisper, tmp_path):
    from safetensors.torch import load_file

    tmp, _ = training_setup
    info = run(tmp, tiny_random_whisper, tmp_path / "val", steps=12, lr=1e-2,
               validation=validation_config(every=2, patience=2))
    curve = pd.read_csv(tmp_path / "val" / "validation.csv")
    assert list(curve.columns) == ["step", "wer"] and curve.step.iloc[0] == 0  # the untrained cut first
    assert list(curve.step) == list(range(0, 2 * len(curve), 2))
    best = int(curve.loc[curve.wer.idxmin(), "step"])  # idxmin: the first of equal minima
    v = info["validation"]
    assert v["best_step"] == best and v["evaluations"] == len(curve)
    if v["stopped_early"]:  # two evaluations after the best without a lower WER
        assert info["steps"] == curve.step.iloc[-1] < 12 and len(curve) - 1 - curve.wer.idxmin() == 2
    else:
        assert info["steps"] == 12
    assert len(pd.read_csv(tmp_path / "val" / "loss.csv")) == info["steps"]
    # the saved weights are those of the best step: the same run without validation, stopped there
    if best:
        run(tmp, tiny_random_whisper, tmp_path / "plain", steps=best, lr=1e-2)
        expected = load_file(tmp_path / "plain" / "model" / "model.safetensors")
    else:
        expected = load_file(tmp / "init" / "model.safetensors")
    got = load_file(tmp_path / "val" / "model" / "model.safetensors")
    for k in got:
        torch.testing.assert_close(got[k], expected[k], rtol=0, atol=0, msg=k)


def test_resumed_run_keeps_its_learning_curve(training_setup, tiny_random_whisper, tmp_path):
    tmp, _ = training_setup
    run(tmp, tiny_random_whisper, tmp_path / "full", steps=6, validation=validation_config())
    run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6, stop_after=3, validation=validation_config())
    info = run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6, validation=validation_config())
    assert info["resumed_from"] == 2
    assert (tmp_path / "full" / "validation.csv").read_text() == (tmp_path / "cut" / "validation.csv").read_text()
    assert len(pd.read_csv(tmp_path / "cut" / "validation.csv")) == 4  # steps 0, 2, 4, 6


def test_student_init_copies_mapped_layers(training_setup, tiny_random_whisper):
    from transformers import WhisperForConditionalGeneration

    tmp, maps = training_setup
    assert maps["encoder_layers"] == [0, 1] and maps["decoder_layers"] == [1] and maps["encoder_shared"]
    t = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper)
    s = WhisperForConditionalGeneration.from_pretrained(tmp / "init")
    assert s.config.decoder_layers == 1
    torch.testing.assert_close(s.model.decoder.layers[0].fc1.weight, t.model.decoder.layers[1].fc1.weight)
    torch.testing.assert_close(s.model.decoder.embed_tokens.weight, t.model.decoder.embed_tokens.weight)
    assert s.generation_config.forced_decoder_ids is None


def test_few_steps_lower_the_loss_and_encoder_runs_once_per_clip(training_setup, tiny_random_whisper, tmp_path):
    tmp, _ = training_setup
    info = run(tmp, tiny_random_whisper, tmp_path, steps=12, lr=1e-2)
    curve = pd.read_csv(tmp_path / "loss.csv")
    assert len(curve) == 12 and list(curve.columns) == ["step", "loss", "ce", "kl", "lr"]
    assert curve.loss.iloc[-3:].mean() < 0.5 * curve.loss.iloc[:3].mean()
    assert info["encoder_shared_and_frozen"] and info["teacher_encoder_passes_per_clip"] <= 1.0
    assert json.loads((tmp_path / "run.json").read_text())["steps"] == 12
    assert (tmp_path / "model" / "model.safetensors").exists()


def test_killed_and_resumed_run_ends_with_identical_weights(training_setup, tiny_random_whisper, tmp_path):
    from safetensors.torch import load_file

    tmp, _ = training_setup
    run(tmp, tiny_random_whisper, tmp_path / "full", steps=6)
    assert run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6, stop_after=3) == {"stopped_at": 3}
    assert not (tmp_path / "cut" / "model").exists()  # nothing final was written
    info = run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6)
    assert info["resumed_from"] == 2  # the newest checkpoint before the interruption
    a = load_file(tmp_path / "full" / "model" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (tmp_path / "full" / "loss.csv").read_text() == (tmp_path / "cut" / "loss.csv").read_text()


def test_a_finished_runs_checkpoints_are_removed_unless_kept(training_setup, tiny_random_whisper, tmp_path):
    """Checkpoints serve to resume an interrupted run: once the model is written they are removed (the schema's
    default), or the newest `keep_checkpoints` stay (the paper config, as the authors' save_total_limit)."""
    tmp, _ = training_setup
    assert train_config().checkpoints_after_training == "remove"
    run(tmp, tiny_random_whisper, tmp_path / "removed", steps=6)
    assert (tmp_path / "removed" / "model" / "model.safetensors").exists()
    assert not (tmp_path / "removed" / "ckpt").exists()
    run(tmp, tiny_random_whisper, tmp_path / "kept", steps=6, checkpoints_after_training="keep", keep_checkpoints=1)
    # the newest one written during training (the last step writes the model, not a checkpoint)
    assert sorted(p.name for p in (tmp_path / "kept" / "ckpt").glob("step-*")) == ["step-4"]
    paper = filled(Path(__file__).parent.parent / "configs" / "paper.yaml")
    assert paper["students"]["training"]["checkpoints_after_training"] == "keep"


def test_checkpoints_of_other_inputs_are_not_resumed(training_setup, tiny_random_whisper, tmp_path, caplog):
    """A job rerun because its subset changed (Snakemake reruns it; the checkpoints folder is not an output) starts
    from step 0: it neither resumes the old subset's weights nor keeps its checkpoints."""
    from safetensors.torch import load_file

    tmp = Path(shutil.copytree(training_setup[0], tmp_path / "setup", ignore=shutil.ignore_patterns("cache")))
    assert run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6, stop_after=3) == {"stopped_at": 3}
    subset = pd.read_parquet(tmp / "subset.parquet")
    subset.assign(pseudo_label=subset.pseudo_label.str.upper()).to_parquet(tmp / "subset.parquet")
    with caplog.at_level("WARNING"):
        info = run(tmp, tiny_random_whisper, tmp_path / "cut", steps=6)
    assert info["resumed_from"] == 0 and "step-2: written for other inputs" in caplog.text
    fresh = run(tmp, tiny_random_whisper, tmp_path / "fresh", steps=6)
    assert fresh["resumed_from"] == 0
    a, b = (load_file(tmp_path / d / "model" / "model.safetensors") for d in ("cut", "fresh"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the new subset's run, as if the old one had never been


def test_encoder_reuse_does_not_change_the_loss_curve(training_setup, tiny_random_whisper, tmp_path):
    tmp, _ = training_setup
    on = run(tmp, tiny_random_whisper, tmp_path / "on", steps=4)
    off = run(tmp, tiny_random_whisper, tmp_path / "off", steps=4, cache="off")
    assert off["teacher_encoder_passes_per_clip"] > 0 and off["encoder_cache"] is None
    a, b = pd.read_csv(tmp_path / "on" / "loss.csv"), pd.read_csv(tmp_path / "off" / "loss.csv")
    assert (a["loss"] - b["loss"]).abs().max() < 1e-4
    assert on["encoder_cache"] is not None


def test_teacher_targets_are_computed_once_per_clip_and_shared_between_runs(training_setup, tiny_random_whisper,
                                                                            tmp_path):
    tmp, _ = training_setup
    first = run(tmp, tiny_random_whisper, tmp_path / "a", steps=6, cache_dir=tmp_path / "cache")
    # every clip's encoder ran once, in this first run, and the teacher decoder at most once per label variant
    assert first["teacher_encoder_passes_per_clip"] == 1.0
    assert first["teacher_encoder_passes_per_clip_all_jobs"] == {"mean": 1.0, "max": 1}
    assert 0 < first["teacher_decoder_forwards_per_clip"] <= 2.0  # with or without previous-text conditioning
    second = run(tmp, tiny_random_whisper, tmp_path / "b", steps=6, cache_dir=tmp_path / "cache")
    assert second["teacher_encoder_passes_per_clip"] == 0 and second["teacher_decoder_forwards_per_clip"] == 0
    assert second["teacher_encoder_passes_per_clip_all_jobs"] == {"mean": 1.0, "max": 1}
    # targets read back from disk are the ones computed: the two runs are the same to the last bit
    assert (tmp_path / "a" / "loss.csv").read_text() == (tmp_path / "b" / "loss.csv").read_text()


@pytest.mark.parametrize("batched", [False, True])
def test_teacher_targets_batched_or_per_clip_agree(tiny_random_whisper, tmp_path, batched):
    """A batch's missing targets in one forward pass (a GPU's way) equal those of one clip at a time (a CPU's)
    within float tolerance; a target already stored, or repeated in the batch, is not computed again."""
    from transformers import WhisperForConditionalGeneration

    from udistil.distill.teacher_targets import TeacherTargets
    from udistil.models.encoder_cache import NpyStore

    model = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper).eval()
    gen = torch.Generator().manual_seed(0)
    states = torch.randn(4, 1500, model.config.d_model, generator=gen)
    lengths = [5, 3, 6, 3]
    ids = torch.randint(0, 50000, (4, 6), generator=gen)
    ids[3] = ids[1]  # clip 3 repeats clip 1 (same audio key, same ids)
    states[3] = states[1]
    keys = ["a", "b", "c", "b"]
    reference = torch.zeros(4, 6, model.config.vocab_size)
    with torch.no_grad():
        for i, n in enumerate(lengths):
            reference[i, :n] = model(encoder_outputs=(states[i:i + 1],), decoder_input_ids=ids[i:i + 1, :n]).logits[0]
    targets = TeacherTargets(model, NpyStore(tmp_path, "t"), batched=batched)
    targets(states[:1], ids[:1], lengths[:1], keys[:1])  # clip a stored first
    out = targets(states, ids, lengths, keys)
    assert targets.forwards == 3  # a once, b once, c once
    assert torch.allclose(out, reference, atol=1e-5)
    assert torch.equal(out[0], reference[0]) and torch.equal(out[1], out[3])
    assert torch.equal(TeacherTargets(model, NpyStore(tmp_path, "t"))(states, ids, lengths, keys), out)


def test_ledger_counts_a_pass_whose_save_was_killed(tmp_path, monkeypatch):
    from udistil.models import encoder_cache

    store = encoder_cache.NpyStore(tmp_path, "enc")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the job dies while writing the array

    monkeypatch.setattr(encoder_cache.Path, "write_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        store.save("clip", np.zeros(3, np.float32))
    assert store.computed(["clip"]) == [1] and store.load("clip") is None  # counted, not stored
    monkeypatch.undo()
    store.save("clip", np.ones(3, np.float32))
    assert store.computed(["clip"]) == [2] and store.load("clip").tolist() == [1.0, 1.0, 1.0]


def damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[:len(data) // 2]
    elif how == "flip data":
        data[-5] ^= 0xFF  # inside the array: still a readable .npy, with one wrong value
    else:  # flip header
        data[:8] = bytes(8)
    path.write_bytes(bytes(data))


def test_a_damaged_entry_is_named_and_treated_as_missing(tmp_path, caplog):
    from udistil.models.encoder_cache import NpyStore

    store = NpyStore(tmp_path, "s")
    for key in ("a", "b", "c", "d"):
        store.save(key, np.arange(12, dtype=np.float32).reshape(3, 4))
    for key, how in {"a": "truncate", "b": "flip data", "c": "flip header"}.items():
        damage(store.path(key), how)
    fresh = NpyStore(tmp_path, "s")  # another job: the ledger read from disk
    with caplog.at_level("WARNING"):
        assert [fresh.load(k, (3, 4)) is None for k in "abc"] == [True, True, True]
        assert fresh.load("d", (4, 3)) is None and fresh.load("d", (3, 4)).sum() == 66
    named = [r.getMessage() for r in caplog.records]
    assert len(named) == 4 and all(str(store.path(k)) in m for k, m in zip("abcd", named, strict=True))
    assert "bytes, the ledger says" in named[0] and "checksum" in named[1] and "shape (3, 4)" in named[3]
    fresh.save("a", np.ones((3, 4), np.float32))  # the caller recomputes and rewrites
    assert NpyStore(tmp_path, "s").load("a", (3, 4)).sum() == 12 and fresh.computed(["a", "d"]) == [2, 1]


def test_entries_of_a_ledger_without_checksums_are_still_read(tmp_path):
    from udistil.models.encoder_cache import NpyStore

    store = NpyStore(tmp_path, "s")
    np.save(store.path("old"), np.ones(3, np.float32))
    store.ledger.write_text("old\n")  # the format before sizes and checksums
    assert store.load("old", (3,)).tolist() == [1, 1, 1] and store.computed(["old"]) == [1]


def test_damaged_cache_entries_are_recomputed_to_the_clean_runs_outputs(training_setup, tiny_random_whisper,
                                                                        tmp_path, caplog):
    """A truncated encoder state and a teacher target with a flipped value: the rerun recomputes and rewrites both
    (warning with their files), and trains to the weights and loss curve of a run on a clean cache."""
    from safetensors.torch import load_file

    tmp, _ = training_setup
    clean = run(tmp, tiny_random_whisper, tmp_path / "clean", steps=3, cache_dir=tmp_path / "cache")
    states = sorted(Path(clean["encoder_cache"]).glob("*.npy"))
    targets = sorted(Path(clean["teacher_targets_cache"]).glob("*.npy"))
    damage(states[0], "truncate")
    damage(targets[0], "flip data")
    with caplog.at_level("WARNING"):
        again = run(tmp, tiny_random_whisper, tmp_path / "again", steps=3, cache_dir=tmp_path / "cache")
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert str(states[0]) in warned and str(targets[0]) in warned
    assert again["teacher_encoder_passes_per_clip"] > 0 and again["teacher_decoder_forwards_per_clip"] > 0
    assert (tmp_path / "again" / "loss.csv").read_text() == (tmp_path / "clean" / "loss.csv").read_text()
    a, b = (load_file(tmp_path / d / "model" / "model.safetensors") for d in ("clean", "again"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_config_names_a_missing_setting():
    cfg = {k: v for k, v in vars(train_config()).items() if k != "temperature"}
    with pytest.raises(TypeError, match="temperature"):
        TrainConfig.from_dict(cfg)
    with pytest.raises(ValueError, match="unknown distillation settings.*'tempreature'"):
        TrainConfig.from_dict({**cfg, "temperature": 2.0, "tempreature": 2.0})


def test_model_cards_describe_init_and_trained_student(training_setup, tiny_random_whisper, tmp_path):
    tmp, maps = training_setup
    init_card = (tmp / "init" / "README.md").read_text()
    meta = yaml.safe_load(init_card.split("---")[1])
    assert meta["pipeline_tag"] == "automatic-speech-recognition" and meta["library_name"] == "transformers"
    assert meta["base_model"] == str(tiny_random_whisper) and "initialised (not yet trained)" in init_card
    assert meta["license"] == "mit"  # the random teacher's: this project's licence
    assert "| decoder | 0 | 1 |" in init_card and "| encoder | 1 | 1 |" in init_card  # maps["decoder_layers"]
    run(tmp, tiny_random_whisper, tmp_path / "s", steps=2)
    card = (tmp_path / "s" / "model" / "README.md").read_text()
    training = json.loads((tmp_path / "s" / "model" / "udistil.json").read_text())["training"]
    assert (training["pool"], training["filter"], training["clips"], training["steps"]) == (tmp.name, "subset", 6, 2)
    assert training["hours"] == round(6.0 / 3600, 4)  # six clips of 1 s (the subset's duration_s)
    assert training["applied"] == {"optimiser_steps": 2, "examples_per_step": 3, "device": "cpu",
                                   "mixed_precision": "no", "encoder": "shared with the teacher, frozen",
                                   "encoder_cache": "on", "teacher_targets": "stored and reused"}
    assert f"Distilled on the `subset` subset of the pool `{tmp.name}`: 6 clips (0.002 h)" in card
    assert "distilled from the teacher" in card and "2 optimiser steps" in card
    assert "| learning_rate | 0.003 |" in card and "| batch_size | 3 |" in card and "| cache |" not in card
    assert "| mixed_precision | no |" in card and "| encoder | shared with the teacher, frozen |" in card
    assert "| decoder | 0 | 1 |" in card and "results/<run>/tables/result_matrix.csv" in card
    assert yaml.safe_load(card.split("---")[1])["language"] == ["en"]


def test_card_of_a_student_names_its_teachers_hub_id_and_licence():
    from udistil.results.model_card import card_text

    sidecar = {"teacher": "resources/models/whisper-base", "encoder_layers": [0, 1, 2, 3, 4, 5],
               "decoder_layers": [0, 5], "encoder_shared": True, "params": 10, "teacher_params": 20}
    config = {"d_model": 512, "encoder_layers": 6, "decoder_layers": 2}
    teacher = {"source": "packaged:whisper-base", "sha256": "0" * 64, "packages": ["p"]}
    meta = yaml.safe_load(card_text("init-6-2", sidecar, config, teacher).split("---")[1])
    assert (meta["base_model"], meta["license"]) == ("openai/whisper-base", "mit")
    meta = yaml.safe_load(card_text("s", {**sidecar, "teacher": "openai/whisper-large-v2"}, config).split("---")[1])
    assert (meta["base_model"], meta["license"]) == ("openai/whisper-large-v2", "mit")
    meta = yaml.safe_load(card_text("s", {**sidecar, "teacher": "/data/my-whisper"}, config).split("---")[1])
    assert meta["base_model"] == "/data/my-whisper" and "license" not in meta  # not known
    card = card_text("s", sidecar, config, teacher)
    assert "| decoder | 1 | 5 |" in card and "| encoder | 5 | 5 |" in card


def test_release_card_carries_the_model_index_the_hub_shows(tmp_path):
    """The release card's `model-index` (read back through huggingface_hub's card API): WER and CER of every
    evaluated set and split, as numbers equal to the run's metrics; a hub set named by its hub id and config."""
    from huggingface_hub import ModelCard

    from udistil.results.model_card import card_text, release

    name = "student-2-1-pool-proxy-s7"
    sidecar = {"teacher": "openai/whisper-large-v2", "encoder_layers": [0, 1], "decoder_layers": [0],
               "encoder_shared": True, "params": 10, "teacher_params": 20}
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text(card_text(name, sidecar, {"d_model": 8, "encoder_layers": 2, "decoder_layers": 1}))
    (model / "model.safetensors").write_bytes(b"weights")
    metrics, paths = {}, []
    for i, (corpus, split) in enumerate([("clean", "test"), ("clean", "validation"), ("fleurs", "test")]):
        metrics[(corpus, split)] = {"wer": 12.3456 + i, "cer": 4.5 + i / 3, "n": 3}
        path = tmp_path / "eval" / name / corpus / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics[(corpus, split)]))
        paths.append(str(path))
    pd.DataFrame([{"model": name, "group": "label-free", "arch": "2-1", "pool": "pool", "filter": "proxy",
                   "clean": 12.3456, "bench_test": 12.0}]).to_csv(tmp_path / "matrix.csv", index=False)
    hub = {"fleurs": {"type": "google/fleurs", "config": "ar_eg"}}
    release(model_dir=model, matrix_csv=tmp_path / "matrix.csv", name=name, out_dir=tmp_path / "release",
            metric_paths=paths, datasets=hub)
    card = ModelCard.load(tmp_path / "release" / "README.md")
    assert card.data.model_name == name and card.data.base_model == "openai/whisper-large-v2"
    got = {(r.dataset_name, r.dataset_split, r.metric_type): r for r in card.data.eval_results}
    assert set(got) == {(c, s, u) for c, s in metrics for u in ("wer", "cer")}
    for (corpus, split, unit), r in got.items():
        assert r.metric_value == metrics[(corpus, split)][unit] and isinstance(r.metric_value, float)
        assert r.task_type == "automatic-speech-recognition" and r.metric_name == f"{unit.upper()} (%)"
        assert (r.dataset_type, r.dataset_config) == (("google/fleurs", "ar_eg") if corpus == "fleurs" else
                                                      (corpus, None))
    assert "| clean | validation | 13.35 | 4.83 | 3 |" in card.text and "| bench_test | 12.00 |" in card.text
    assert (tmp_path / "release" / "model.safetensors").read_bytes() == b"weights"
    other = tmp_path / "eval" / "whisper-base" / "clean" / "test.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps(metrics[("clean", "test")]))
    with pytest.raises(ValueError, match="other models' evaluations: \\['whisper-base'\\]"):
        release(model_dir=model, matrix_csv=tmp_path / "matrix.csv", name=name, out_dir=tmp_path / "again",
                metric_paths=[*paths, str(other)])


def test_teacher_weights_are_hashed_once(tiny_random_whisper, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    from udistil.distill import teacher_targets
    from udistil.models import encoder_cache

    model = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper)
    cfg = {"mode": "on", "max_gb": 1, "dir": "unused", "teacher_targets": True}
    enc_hash = encoder_cache.weights_hash(model.get_encoder())[:20]
    hashed: list[int] = []

    def counting(module, exclude=None):
        kept = [t for n, t in module.state_dict().items() if not exclude or not n.startswith(exclude)]
        hashed.append(sum(t.numel() for t in kept))
        return encoder_cache.weights_hash(module, exclude)

    monkeypatch.setattr(teacher_targets, "weights_hash", counting)
    monkeypatch.setattr(teacher_targets, "NpyStore", lambda root, namespace: namespace)
    store = teacher_targets.make_targets(cfg=cfg, model=model, label_tokens=1, encoder_hash=enc_hash).store
    encoder_numel = sum(t.numel() for t in model.get_encoder().state_dict().values())
    assert hashed == [sum(t.numel() for t in model.state_dict().values()) - encoder_numel]  # the encoder not again
    assert store == f"teacher-{teacher_targets.teacher_hash(model, None)}"  # the same key as hashing it here
    assert teacher_targets.teacher_hash(model, None) != teacher_targets.teacher_hash(model, "0" * 20)


def test_cache_settings_are_required(tiny_random_whisper):
    from transformers import WhisperForConditionalGeneration

    from udistil.models.encoder_cache import make_cache

    model = WhisperForConditionalGeneration.from_pretrained(tiny_random_whisper)
    with pytest.raises(KeyError, match="max_gb"):
        make_cache(cfg={"mode": "auto", "dir": "unused"}, model=model, n_clips=1)
    with pytest.raises(TypeError, match="n_clips"):
        make_cache(cfg={"mode": "off", "max_gb": 1, "dir": "unused"}, model=model)
