"""Shared test helpers: tiny random models built from configs (no download), configs and settings, and the job
counts of a Snakemake run's output."""

import re
from pathlib import Path


def tiny_seamless_m4t_v2(folder: Path) -> Path:
    """A SeamlessM4T v2 speech-to-text model with random weights and a 15-word tokenizer."""
    from udistil.models.specs import random_seamless

    return random_seamless({"random": "seamless_m4t_v2", "seed": 0}, folder)


def filled_config(**changes) -> dict:
    """configs/minimal.yaml with `changes` (top-level keys), validated: every schema default filled."""
    import copy

    import yaml

    from udistil.config.validate import validate

    root = Path(__file__).resolve().parent.parent
    cfg = copy.deepcopy(yaml.safe_load((root / "configs" / "minimal.yaml").read_text()))
    cfg.update(changes)
    return validate(cfg)


def decode_options(**overrides):
    """DecodeOptions from the schema's `decoding` defaults (English, transcribe) with `overrides`."""
    from udistil.labels.decoding import DecodeOptions

    return DecodeOptions.from_section({**filled_config()["decoding"], "language": "en", "task": "transcribe"},
                                      **overrides)


def train_config(cache: dict | None = None, **overrides):
    """TrainConfig (`TrainConfig.from_config`, seed 0) of configs/minimal.yaml on the CPU in English, with `cache`
    merged into its `encoder_cache` and `overrides`."""
    from dataclasses import replace

    from udistil.distill import TrainConfig

    cfg = filled_config(language="en", task="transcribe", precision="fp32", device="cpu")
    cfg["encoder_cache"] = {**cfg["encoder_cache"], **(cache or {})}
    return replace(TrainConfig.from_config(cfg, 0), **overrides)


def corpus_spec(spec: dict) -> dict:
    """A corpus entry as the workflow passes it: validated, its schema defaults filled."""
    corpora = filled_config()["corpora"]
    return filled_config(corpora={**corpora, "extra": spec})["corpora"]["extra"]


def job_counts(output: str) -> dict[str, int]:
    """Rule -> jobs (and `total`) from the "Job stats" table Snakemake prints (a dry run's, or a run's)."""
    stats = output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def job_resources(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job a dry run lists, in its order."""
    jobs = re.split(r"^(?:local)?rule (\w+):$", output, flags=re.M)[1:]
    found = []
    for rule, body in zip(jobs[::2], jobs[1::2], strict=True):
        line = re.search(r"^\s+resources: (.*)$", body, re.M)
        pairs = [kv.split("=", 1) for kv in line.group(1).split(", ")] if line else []
        found.append((rule, dict(pairs)))
    return found


class HostReads:
    """Counts the reads of one device number into Python (`float(t[i])`, `.item()`: aten.item or
    aten._local_scalar_dense), each a host-device sync on a GPU; a whole tensor's `.tolist()` is not one."""

    def __init__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                counter.reads += func in (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default)
                return func(*args, **(kwargs or {}))

        self.reads, self.mode = 0, Mode()
