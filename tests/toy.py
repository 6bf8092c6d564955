"""The paper's workflow at toy scale: configs/paper.yaml with tiny random models and tiny saved datasets.

`toy_config` derives the toy config from the paper's in code, so it cannot drift from it:
- each hub model becomes a tiny random model of the same family and role (`toy_models`), written by
  `write_toy_inputs` and named by `path:`, so that jobs load it the way they load a hub id: the Whisper teacher
  (as deep as the deepest architecture, so the paper's 32-16 and 16-16 layer maps apply unchanged, at a width
  of 16, a 2 s input window and weights large enough that its transcripts depend on the clip), Whisper,
  SeamlessM4T v1 and v2 and MMS CTC zero-shot models, and the nnll LLM;
- each corpus becomes a saved Hugging Face dataset (`from_disk`) of a few clips with the configured columns (the
  category column included) and the configured splits; one evaluation clip is over 30 s;
- the device is the CPU, distillation runs in 2 processes (gloo), and SONAR (whose package pins its own torch
  and downloads its encoders) is replaced by its offline stand-in, the text-embedding backend;
- every other key is the paper's: pools and filters per pool, timestamps, layer maps, epochs, global batch and
  accumulation, the decoding sections, the zero-shot list, the categories, the selection rules, PESQ.

The random models decode from a three-word Arabic vocabulary (`WORDS`, the references' words too) and end each
transcript a few tokens in (`STOP_AFTER`, an exponential length penalty on the end token in their generation
config), as a trained model ends its transcripts: the paper's 225- and 444-token limits stay in the config and
cost what real transcripts cost. Teacher and proxy then agree on some clips and the ground truth on some, so
every filter, the supervised one and the proxy threshold included, keeps clips to train on.
"""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import yaml

from udistil.common.fileio import SAMPLE_RATE, write_text
from udistil.config.validate import validate
from udistil.labels.decoding.ctc import MMS_LANG
from udistil.labels.decoding.seq2seq import SEAMLESS_LANG
from udistil.models.specs import materialise
from udistil.plan.grid import student_grid, student_name

PAPER = Path(__file__).resolve().parent.parent / "configs" / "paper.yaml"
WORDS = ("في", "من", "على")
"""The toy vocabulary: single tokens of Whisper's multilingual vocabulary (with their leading space), the whole
vocabulary of the random SeamlessM4T models, and the words of every reference."""
WORD_SCALES = (24.0, 10.0, 8.0)
"""Factors on the output rows of the words of `WORDS`, in order: the first is the most frequent in every model."""
STOP_AFTER = 3
"""Tokens after which a random model's end token is pushed up (factor 4 a step) until it ends the transcript."""
PROCESSES = 2
"""Distillation processes (gloo on the CPU), for the paper's 8."""
WIDTH = 16
"""d_model of the random Whisper models."""
WINDOW_POSITIONS = 100
"""Encoder positions of the random Whisper models: a 2 s window (openai's 1500: 30 s)."""
SONAR_STAND_IN = "all-minilm-l6-v2"
"""The packaged sentence-embedding model of SONAR's offline stand-in (the `text_embedding` backend)."""
FAMILIES = ((r"seamless-m4t-v2", "seamless_m4t_v2"), (r"seamless-m4t", "seamless_m4t"), (r"/mms-", "ctc"),
            (r"/whisper-", "whisper"))
"""Hub id pattern -> the random model kind of its family (the first that matches)."""
CLIPS = {"pool": 24, "eval": 2}
"""Clips per pool split and per evaluation split (a set with categories: one per category, and the long clip)."""
LONG_CLIP_S = 31.0


def paper_config(path: str | Path = PAPER) -> dict[str, Any]:
    """The paper's config as written (unfilled)."""
    return yaml.safe_load(Path(path).read_text())


def family(name: str, paper: dict[str, Any]) -> str:
    """The random model kind standing in for the paper's model `name`: the nnll LLM by its role, the speech
    models by their hub id."""
    if name == paper.get("scores", {}).get("nnll", {}).get("model"):
        return "causal_lm"
    hub = paper["models"][name].get("hub", "")
    for pattern, kind in FAMILIES:
        if re.search(pattern, hub):
            return kind
    raise ValueError(f"config key 'models.{name}': no toy model for '{hub}' (tests.toy.FAMILIES)")


def teacher_depth(paper: dict[str, Any]) -> int:
    """Layers of the toy teacher's encoder and decoder: the most any architecture keeps (32, as large-v2's)."""
    return max(int(n) for arch in paper["students"]["architectures"] for n in arch.split("-"))


def toy_models(paper: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`random:` specs (udistil.models.specs.materialise) of the stand-in for each of the paper's models."""
    lang = paper["language"]
    specs = {}
    for seed, name in enumerate(paper["models"]):
        kind = family(name, paper)
        config: dict[str, Any] = {}
        if kind == "whisper":
            depth = teacher_depth(paper) if name == paper["teacher"] else 2
            config = {"d_model": WIDTH, "encoder_layers": depth, "decoder_layers": depth, "encoder_ffn_dim": 2 * WIDTH,
                      "decoder_ffn_dim": 2 * WIDTH, "max_source_positions": WINDOW_POSITIONS, "init_std": 1.0}
        elif kind in ("seamless_m4t", "seamless_m4t_v2"):
            config = {"langs": [SEAMLESS_LANG.get(lang, lang)], "words": list(WORDS), "initializer_range": 1.0}
        elif kind == "ctc":
            config = {"adapters": [MMS_LANG.get(lang, lang)], "conv_dim": [16, 16, 16], "conv_stride": [10, 8, 4],
                      "conv_kernel": [10, 8, 4]}  # MMS's 320 samples a frame
        elif kind == "causal_lm":
            config = {"hidden_size": WIDTH, "intermediate_size": 2 * WIDTH}
        specs[name] = {"random": kind, "seed": seed, "tokenizer": "whisper-base", "config": config}
    return specs


def toy_config(folder: str | Path, paper_path: str | Path = PAPER) -> dict[str, Any]:
    """The toy config (unfilled, as a config file holds it) over the models and datasets that
    `write_toy_inputs(folder)` writes."""
    folder = Path(folder).resolve()
    paper = paper_config(paper_path)
    toy = copy.deepcopy(paper)
    toy.update(offline=True, device="cpu")
    toy["run"] = "paper-toy"  # its own results folder, beside a real paper run's
    toy["description"] = "toy-scale paper run: configs/paper.yaml with tiny random models and datasets (tests.toy)"
    toy["models"] = {name: {"path": str(folder / "models" / name)} for name in paper["models"]}
    toy["models"][SONAR_STAND_IN] = {"packaged": SONAR_STAND_IN}
    toy["scores"]["sonar"] = {"backend": "text_embedding", "model": SONAR_STAND_IN}
    toy["corpora"] = {name: {**spec, "path": str(folder / "data" / name), "from_disk": True}
                      for name, spec in paper["corpora"].items()}
    toy["students"]["training"]["num_processes"] = PROCESSES
    return toy


def expected_students(config: dict[str, Any]) -> list[str]:
    """Every student's name, from a config (filled or not)."""
    return [student_name(*s) for s in student_grid(validate(copy.deepcopy(config)))]


def expected_models(config: dict[str, Any]) -> list[str]:
    """Every evaluated model: the teacher, the zero-shot models and the students."""
    zero_shot = [m for m in config["evaluation"]["zero_shot"] if m != config["teacher"]]
    return [config["teacher"], *zero_shot, *expected_students(config)]


def expected_evaluations(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(model, set, split) of every evaluation."""
    ev = config["evaluation"]
    return [(m, c, s) for m in expected_models(config) for c in ev["sets"] for s in ev["splits"]]


# ---- the tiny inputs -------------------------------------------------------------------------------------------


def restrict_generation(folder: str | Path, kind: str, words: tuple[str, ...] = WORDS,
                        stop_after: int = STOP_AFTER) -> None:
    """Make a random model's transcripts short and in the toy vocabulary: an exponential length penalty on its
    end token from `stop_after` tokens on; for Whisper, every text token but `words` and the end suppressed
    (`shape_vocabulary` makes the words win over timestamps where these are not asked for)."""
    from transformers import AutoTokenizer, GenerationConfig

    gen = GenerationConfig.from_pretrained(folder)
    gen.exponential_decay_length_penalty = (stop_after, 4.0)
    if kind == "whisper":
        keep = set(word_ids(AutoTokenizer.from_pretrained(folder), words)) | {gen.eos_token_id}
        gen.suppress_tokens = [i for i in range(gen.no_timestamps_token_id + 1) if i not in keep]
    gen.save_pretrained(folder)


def word_ids(tok: Any, words: tuple[str, ...]) -> list[int]:
    """Whisper token ids of `words` as a transcript writes them (a leading space); each must be one token."""
    ids = [tok.encode(" " + w, add_special_tokens=False) for w in words]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"toy words {words} are not single Whisper tokens: {ids}")
    return [i[0] for i in ids]


def shape_vocabulary(folder: str | Path, kind: str, words: tuple[str, ...] = WORDS, seed: int = 0) -> None:
    """Output embeddings (tied to the input ones) of a random Whisper or SeamlessM4T shaped as a trained model's
    would rank them: the words' rows scaled up, the first word most (`WORD_SCALES`: a frequent word is a likely
    output of any model, so teacher and proxy agree on some clips); for Whisper, the timestamps' rows scaled down
    (they then win only where the timestamp rules force them) and the end token given a row (random init leaves
    the padding row, which is Whisper's end token's, at zero: its logit would stay 0 whatever the length
    penalty)."""
    import torch
    import transformers
    from transformers import AutoTokenizer

    model = getattr(transformers, MODEL_CLASSES[kind]).from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    gen = model.generation_config
    rows = model.get_output_embeddings().weight
    with torch.no_grad():
        if kind == "whisper":
            rows[gen.no_timestamps_token_id + 1:] *= 0.01
            noise = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(seed))
            rows[gen.eos_token_id] = noise * rows.std()
            ids = word_ids(tok, words)
        else:
            ids = tok.convert_tokens_to_ids(list(words))
        rows[ids] *= torch.tensor(WORD_SCALES[:len(ids)]).unsqueeze(1)
    model.save_pretrained(folder)


MODEL_CLASSES = {"whisper": "WhisperForConditionalGeneration", "seamless_m4t": "SeamlessM4TForSpeechToText",
                 "seamless_m4t_v2": "SeamlessM4Tv2ForSpeechToText"}
"""The transformers class of each random kind whose transcripts `shape_vocabulary` and `restrict_generation`
shape."""


def write_toy_models(folder: str | Path, paper: dict[str, Any]) -> dict[str, Path]:
    """Every stand-in model under `folder/models/<name>`."""
    out = {}
    for name, spec in toy_models(paper).items():
        path = Path(folder) / "models" / name
        materialise(spec=spec, out_dir=path)
        if spec["random"] in MODEL_CLASSES:
            shape_vocabulary(path, spec["random"], seed=spec["seed"])
            restrict_generation(path, spec["random"])
        out[name] = path
    return out


def tone(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A clip of a few tones in noise, 16 kHz (cheap, deterministic from `rng`)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(150, 3000, size=3))
    noisy = 0.2 * wave / 3 + 0.02 * rng.standard_normal(t.size)
    return noisy.astype(np.float32)


def wav_bytes(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def toy_rows(name: str, spec: dict[str, Any], split: str, n: int, categories: list[str] | None,
             long_clip: bool, seed: int) -> dict[str, list]:
    """Columns of one split: audio (WAV bytes), the configured text column, and each meta column (the category
    column cycles through `categories`); with `long_clip`, the last clip lasts LONG_CLIP_S."""
    rng = np.random.default_rng([seed, sum(map(ord, f"{name}/{split}"))])
    n = max(n, len(categories or [])) + int(long_clip)
    seconds = [float(rng.uniform(0.6, 1.8)) for _ in range(n)]
    if long_clip:
        seconds[-1] = LONG_CLIP_S
    rows: dict[str, list] = {
        spec.get("audio_column", "audio"): [{"bytes": wav_bytes(tone(s, rng)), "path": f"{split}-{i:03d}.wav"}
                                            for i, s in enumerate(seconds)],
        spec.get("text_column", "text"): [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
                                          for _ in range(n)]}
    for column in spec.get("meta_columns", []):
        values = categories or ["(none)"]
        rows[column] = [values[i % len(values)] for i in range(n)]
    return rows


def write_toy_datasets(folder: str | Path, paper: dict[str, Any]) -> dict[str, Path]:
    """Every corpus as a saved DatasetDict under `folder/data/<name>`, its splits named as the config's; one
    evaluation clip over 30 s (in the first set with categories, else the first set)."""
    import datasets

    ev = paper["evaluation"]
    long_set = next(iter(ev.get("categories", {})), ev["sets"][0])
    out = {}
    for name, spec in paper["corpora"].items():
        column = ev.get("categories", {}).get(name)
        categories = list(paper.get("paper", {}).get("categories", {})) if column else None
        splits = {}
        for split, hf_split in spec["splits"].items():
            pool = name in paper["pools"]
            rows = toy_rows(name, spec, hf_split, CLIPS["pool" if pool else "eval"], categories,
                            long_clip=name == long_set and split == ev["splits"][0], seed=paper["seed"])
            audio = spec.get("audio_column", "audio")
            splits[hf_split] = datasets.Dataset.from_dict(rows).cast_column(audio, datasets.Audio(decode=False))
        path = Path(folder) / "data" / name
        datasets.DatasetDict(splits).save_to_disk(str(path))
        out[name] = path
    return out


def write_toy_inputs(folder: str | Path, paper_path: str | Path = PAPER) -> Path:
    """The stand-in models, the tiny datasets and the toy config (`folder/toy.yaml`, returned)."""
    paper = paper_config(paper_path)
    write_toy_models(folder, paper)
    write_toy_datasets(folder, paper)
    path = Path(folder) / "toy.yaml"
    write_text(yaml.safe_dump(toy_config(folder, paper_path), sort_keys=False, allow_unicode=True), path)
    return path


if __name__ == "__main__":  # python -m tests.toy FOLDER; then snakemake --configfile FOLDER/toy.yaml
    import sys

    print(write_toy_inputs(sys.argv[1]))
