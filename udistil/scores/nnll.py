"""`nnll`: mean per-token negative log-likelihood of the pseudo-label under a causal language model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from udistil.common.devices import pick_device
from udistil.scores import is_empty, worst
from udistil.scores.jobs import read_labels, report, require_keys


def load_causal_lm(location: str, device: torch.device):
    """A causal LM and its tokenizer from a hub id, a folder, or a `.gguf` file (packaged SmolLM2)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(location)
    kw = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
    where = str(path.parent) if kw else location
    tok = AutoTokenizer.from_pretrained(where, **kw)
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kw).to(device).eval()
    return model, tok


@torch.inference_mode()
def text_nll(texts: list[str], model, tok, *, batch_size: int) -> list[tuple[float, int]]:
    """(mean NLL per token, tokens) of each text, conditioned on a start token (BOS, else EOS)."""
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else start
    encoded = [tok(t, add_special_tokens=False).input_ids for t in texts]
    out: list[tuple[float, int]] = [(float("nan"), 0)] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))
    device = next(model.parameters()).device
    for b in tqdm(range(0, len(order), batch_size), desc="nnll", unit="batch", mininterval=5):
        idx = order[b:b + batch_size]
        seqs = [[start] + encoded[i] for i in idx]
        width = max(map(len, seqs))
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        valid = mask[:, 1:].float()
        per_text = (nll * valid).sum(1) / valid.sum(1).clamp(min=1)
        for i, value in zip(idx, per_text.tolist(), strict=True):  # one transfer for the batch
            out[i] = (value, len(encoded[i]))
    return out


def nnll_score(labels: pd.DataFrame, model, tok, *, batch_size: int) -> pd.DataFrame:
    """Mean token NLL of each pseudo-label (`lm_tokens` counted); empty pseudo-labels get the worst score."""
    empty = labels["pseudo_label"].map(is_empty)
    texts = labels.loc[~empty, "pseudo_label"].str.strip().tolist()
    scored = iter(text_nll(texts, model, tok, batch_size=batch_size))
    rows = []
    for utt, is_e in zip(labels["id"], empty, strict=True):
        if is_e:
            rows.append((utt, worst("nnll"), "empty pseudo-label", 0))
        else:
            value, n = next(scored)
            rows.append((utt, value, None, n))
    return pd.DataFrame(rows, columns=["id", "score", "reason", "lm_tokens"])


def run_nnll(*, labels: str, cfg: dict[str, Any], model: str, device: str, out: str) -> None:
    """`cfg`: the filled `scores.nnll` section; `model`: where its model lies (a folder or .gguf file)."""
    cfg = require_keys(cfg, ("model", "batch_size"), "scores.nnll")
    lm, tok = load_causal_lm(model, pick_device(device))
    report(nnll_score(read_labels(labels), lm, tok, batch_size=cfg["batch_size"]), "nnll", out,
           {**cfg, "location": str(model), "device": device})
