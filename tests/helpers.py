"""Tiny random models built from configs (no download) for tests."""

from pathlib import Path

import torch


def tiny_seamless_m4t_v2(folder: Path) -> Path:
    """A SeamlessM4T v2 speech-to-text model with random weights and a 15-word tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        SeamlessM4TFeatureExtractor,
        SeamlessM4Tv2Config,
        SeamlessM4Tv2ForSpeechToText,
    )

    words = ["<pad>", "</s>", "<s>", "<unk>", "__eng__"] + "the cat sat on a mat dog ran far away".split()
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", bos_token="<s>",
                                  unk_token="<unk>", additional_special_tokens=["__eng__"])
    small = dict(hidden_size=32, encoder_layers=1, decoder_layers=1, speech_encoder_layers=1,
                 encoder_attention_heads=2, decoder_attention_heads=2, speech_encoder_attention_heads=2,
                 encoder_ffn_dim=64, decoder_ffn_dim=64, speech_encoder_intermediate_size=64, num_adapter_layers=1,
                 adaptor_kernel_size=2, adaptor_stride=2, t2u_encoder_layers=1, t2u_decoder_layers=1,
                 t2u_encoder_attention_heads=2, t2u_decoder_attention_heads=2, t2u_encoder_ffn_dim=32,
                 t2u_decoder_ffn_dim=32, t2u_vocab_size=8, unit_hifi_gan_vocab_size=8, char_vocab_size=8,
                 max_position_embeddings=64)
    cfg = SeamlessM4Tv2Config(vocab_size=len(words), pad_token_id=0, eos_token_id=1, bos_token_id=2,
                              decoder_start_token_id=1, **small)
    torch.manual_seed(0)
    model = SeamlessM4Tv2ForSpeechToText(cfg).eval()
    model.generation_config = GenerationConfig(decoder_start_token_id=1, eos_token_id=1, pad_token_id=0,
                                               bos_token_id=2, text_decoder_lang_to_code_id={"eng": 4},
                                               max_length=32)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    SeamlessM4TFeatureExtractor().save_pretrained(folder)
    return folder


def filled_config(**changes) -> dict:
    """configs/minimal.yaml with `changes` (top-level keys), validated: every schema default filled."""
    import copy

    import yaml

    from udistil.config import validate

    root = Path(__file__).resolve().parent.parent
    cfg = copy.deepcopy(yaml.safe_load((root / "configs" / "minimal.yaml").read_text()))
    cfg.update(changes)
    return validate(cfg)


def decode_options(**overrides):
    """DecodeOptions from the schema's `decoding` defaults (English, transcribe) with `overrides`."""
    from udistil.decoding import DecodeOptions

    return DecodeOptions.from_section({**filled_config()["decoding"], "language": "en", "task": "transcribe"},
                                      **overrides)


def train_config(cache: dict | None = None, **overrides):
    """TrainConfig from the schema's `students.training` defaults (CPU, English) with `overrides`."""
    from udistil.distill import TrainConfig

    cfg = filled_config()
    return TrainConfig(**{**cfg["students"]["training"], "seed": 0, "language": "en", "task": "transcribe",
                          "precision": "fp32", "device": "cpu", "cache": {**cfg["encoder_cache"], **(cache or {})},
                          "deterministic": cfg["deterministic"],
                          **overrides})


def corpus_spec(spec: dict) -> dict:
    """A corpus entry as the workflow passes it: validated, its schema defaults filled."""
    corpora = filled_config()["corpora"]
    return filled_config(corpora={**corpora, "extra": spec})["corpora"]["extra"]
