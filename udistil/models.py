"""Model specs from the config: packaged assets, hub ids, local folders and tiny random models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from udistil.assets import (
    PACKAGED_WHISPER,
    convert_packaged_whisper,
    package_file,
    packaged_path,
    save_whisper,
)
from udistil.model_card import model_name, write_card


def is_materialised(spec: dict[str, Any]) -> bool:
    """Whether the model is built into a folder under resources/ by the workflow."""
    return "random" in spec or spec.get("packaged") in PACKAGED_WHISPER


def location(spec: dict[str, Any], folder: str | Path | None = None) -> str:
    """What `from_pretrained` takes for this spec: the materialised folder, a hub id or a local path."""
    if is_materialised(spec):
        if folder is None:
            raise ValueError(f"model spec {spec} needs its materialised folder")
        return str(folder)
    if "packaged" in spec:
        return str(packaged_path(spec["packaged"]))
    if "hub" in spec:
        return spec["hub"]
    return str(spec["path"])


def materialise(*, spec: dict[str, Any], out_dir: str | Path) -> Path:
    """Build a model folder: convert packaged CTranslate2 weights or initialise a seeded random model."""
    if "packaged" in spec:
        return convert_packaged_whisper(spec["packaged"], out_dir)
    if spec["random"] == "whisper":
        return random_whisper(spec, out_dir)
    if spec["random"] == "causal_lm":
        return random_causal_lm(spec, out_dir)
    raise ValueError(f"unknown random model kind '{spec['random']}'")


def _tokenizer(name: str, vocab_size: int):
    import tempfile

    from udistil.assets import build_tokenizer

    asset = PACKAGED_WHISPER[name]
    with tempfile.TemporaryDirectory() as work:
        return build_tokenizer(package_file(*asset.tokenizer), vocab_size, Path(work))


def random_whisper(spec: dict[str, Any], out_dir: str | Path) -> Path:
    """A tiny Whisper with random weights and a real packaged tokenizer (tests, smoke runs)."""
    import json

    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from udistil.assets import generation_config

    tok_name = spec["tokenizer"]
    vocab = 51865 if tok_name == "whisper-base" else 51864
    tok = _tokenizer(tok_name, vocab)
    ids = tok.convert_tokens_to_ids
    cfg = {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
           "decoder_attention_heads": 2, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128,
           "max_target_positions": 448, **spec["config"]}
    config = WhisperConfig(vocab_size=vocab, pad_token_id=ids("<|endoftext|>"), bos_token_id=ids("<|endoftext|>"),
                           eos_token_id=ids("<|endoftext|>"), decoder_start_token_id=ids("<|startoftranscript|>"),
                           suppress_tokens=None, begin_suppress_tokens=None, **cfg)
    torch.manual_seed(int(spec["seed"]))
    model = WhisperForConditionalGeneration(config).eval()
    ct2 = json.loads(package_file(*PACKAGED_WHISPER[tok_name].ct2_config).read_text())
    gen = generation_config(tok, ct2, config.max_target_positions)
    save_whisper(model, tok, gen, Path(out_dir), {"source": f"random:whisper seed={spec['seed']}"})
    return Path(out_dir)


def random_causal_lm(spec: dict[str, Any], out_dir: str | Path) -> Path:
    """A tiny Llama-style causal LM with random weights and the Whisper tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _tokenizer(spec["tokenizer"], 51865)
    cfg = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
           "num_key_value_heads": 2, **spec["config"]}
    torch.manual_seed(int(spec["seed"]))
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), **cfg)).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    (out_dir / "udistil.json").write_text(json.dumps({"source": f"random:causal_lm seed={spec['seed']}"}) + "\n")
    write_card(out_dir, model_name(out_dir))
    return out_dir
