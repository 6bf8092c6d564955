"""Model specs from the config: packaged assets, hub ids, local folders and tiny random models."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from udistil.models.assets import (
    PACKAGED_WHISPER,
    build_tokenizer,
    convert_packaged_whisper,
    generation_config,
    package_file,
    packaged_path,
    save_whisper,
)
from udistil.results.model_card import model_name, write_card

# Bumped when a built folder changes (2: no language table in English-only conversions). The workflow passes it as
# a rule parameter, so Snakemake rebuilds folders made by an older version.
MATERIALISE_VERSION = 2


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
    if spec["random"] == "ctc":
        return random_ctc(spec, out_dir)
    if spec["random"] in SEAMLESS_RANDOM:
        return random_seamless(spec, out_dir)
    raise ValueError(f"unknown random model kind '{spec['random']}'")


def _tokenizer(name: str, vocab_size: int):
    asset = PACKAGED_WHISPER[name]
    with tempfile.TemporaryDirectory() as work:
        return build_tokenizer(package_file(*asset.tokenizer), vocab_size, Path(work))


def random_whisper(spec: dict[str, Any], out_dir: str | Path) -> Path:
    """A tiny Whisper with random weights and a real packaged tokenizer (tests, smoke runs)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

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


CTC_CHARACTERS = list("abcdefghijklmnopqrstuvwxyz'")
"""The letters of a random CTC model's vocabulary (beside <pad> = the CTC blank, <unk> and the word delimiter |)."""


def random_ctc(spec: dict[str, Any], out_dir: str | Path) -> Path:
    """A tiny wav2vec2 CTC model with random weights, shaped like MMS: a per-language vocabulary (nested
    vocab.json) and a language adapter per language (`adapter.{lang}.safetensors`), both for the languages in
    the spec's `config.adapters` (default `[ara]`)."""
    from safetensors.torch import save_file
    from transformers import Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
           "conv_dim": [16, 16], "conv_stride": [5, 4], "conv_kernel": [10, 8], "num_conv_pos_embeddings": 16,
           "num_conv_pos_embedding_groups": 2, "adapter_attn_dim": 8, "feat_extract_norm": "layer",
           "do_stable_layer_norm": True, **spec["config"]}  # MMS's layer norms (it pads with an attention mask)
    langs = cfg.pop("adapters", ["ara"])
    letters = {c: i + 3 for i, c in enumerate(CTC_CHARACTERS)}
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **letters}
    (out_dir / "vocab.json").write_text(json.dumps({lang: vocab for lang in langs}))
    tok = Wav2Vec2CTCTokenizer(str(out_dir / "vocab.json"), target_lang=langs[0])
    torch.manual_seed(int(spec["seed"]))
    model = Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=len(vocab), pad_token_id=0, ctc_loss_reduction="mean",
                                          **cfg)).eval()
    for i, lang in enumerate(langs):  # each language its own adapter weights, none equal to the initial ones
        generator = torch.Generator().manual_seed(int(spec["seed"]) + 1 + i)
        adapter = {k: torch.randn(v.shape, generator=generator) for k, v in model._get_adapters().items()}
        save_file(adapter, str(out_dir / f"adapter.{lang}.safetensors"))
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(out_dir)
    (out_dir / "udistil.json").write_text(json.dumps({"source": f"random:ctc seed={spec['seed']}"}) + "\n")
    return out_dir


SEAMLESS_RANDOM = ("seamless_m4t", "seamless_m4t_v2")
"""The random SeamlessM4T kinds: v1 (the paper's SM4T-M and SM4T-L-v1) and v2 (SM4T-L-v2, its proxy)."""
SEAMLESS_WORDS = "the cat sat on a mat dog ran far away".split()
"""The words of a random SeamlessM4T's vocabulary, unless its spec's `config.words` lists others."""


def _word_tokenizer(words: list[str], langs: list[str]):
    """A word-level tokenizer: <pad> </s> <s> <unk>, a `__{lang}__` token per language, then `words`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    codes = [f"__{lang}__" for lang in langs]
    vocab = ["<pad>", "</s>", "<s>", "<unk>", *codes, *words]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", bos_token="<s>",
                                  unk_token="<unk>", additional_special_tokens=codes)


def random_seamless(spec: dict[str, Any], out_dir: str | Path) -> Path:
    """A tiny SeamlessM4T speech-to-text model (v1 or v2, `spec["random"]`) with random weights and a word-level
    tokenizer; its generation config maps each language of `config.langs` (default `[eng]`) to its code token,
    as the hub models' do for `tgt_lang`. `config.words` and `config.generation` (GenerationConfig fields)
    override the vocabulary and decoding defaults; other `config` keys override the architecture."""
    from transformers import (
        GenerationConfig,
        SeamlessM4TConfig,
        SeamlessM4TFeatureExtractor,
        SeamlessM4TForSpeechToText,
        SeamlessM4Tv2Config,
        SeamlessM4Tv2ForSpeechToText,
    )

    own = dict(spec.get("config", {}))
    langs, words = own.pop("langs", ["eng"]), own.pop("words", SEAMLESS_WORDS)
    generation = own.pop("generation", {})
    tok = _word_tokenizer(words, langs)
    v2 = spec["random"] == "seamless_m4t_v2"
    small = dict(hidden_size=32, encoder_layers=1, decoder_layers=1, speech_encoder_layers=1,
                 encoder_attention_heads=2, decoder_attention_heads=2, speech_encoder_attention_heads=2,
                 encoder_ffn_dim=64, decoder_ffn_dim=64, speech_encoder_intermediate_size=64, num_adapter_layers=1,
                 adaptor_kernel_size=2, adaptor_stride=2, t2u_encoder_layers=1, t2u_decoder_layers=1,
                 t2u_encoder_attention_heads=2, t2u_decoder_attention_heads=2, t2u_encoder_ffn_dim=32,
                 t2u_decoder_ffn_dim=32, t2u_vocab_size=8, unit_hifi_gan_vocab_size=8,
                 max_position_embeddings=64, **({"char_vocab_size": 8} if v2 else {}), **own)
    config_class, model_class = ((SeamlessM4Tv2Config, SeamlessM4Tv2ForSpeechToText) if v2
                                 else (SeamlessM4TConfig, SeamlessM4TForSpeechToText))
    cfg = config_class(vocab_size=len(tok), pad_token_id=0, eos_token_id=1, bos_token_id=2, decoder_start_token_id=1,
                       **small)
    torch.manual_seed(int(spec.get("seed", 0)))
    model = model_class(cfg).eval()
    codes = {lang: tok.convert_tokens_to_ids(f"__{lang}__") for lang in langs}
    model.generation_config = GenerationConfig(**{
        "decoder_start_token_id": 1, "eos_token_id": 1, "pad_token_id": 0, "bos_token_id": 2,
        "text_decoder_lang_to_code_id": codes, "max_length": 32, **generation})
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    SeamlessM4TFeatureExtractor().save_pretrained(out_dir)
    (out_dir / "udistil.json").write_text(json.dumps({"source": f"random:{spec['random']} seed={spec.get('seed', 0)}"})
                                          + "\n")
    return out_dir
