"""Student initialisation: a smaller Whisper whose layers are copied from the teacher (distil-whisper's rule)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch

from udistil.models.assets import save_whisper

log = logging.getLogger(__name__)


def layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layer copied into each student layer: evenly spaced, first and last always kept."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"a student of {student_layers} layers cannot be cut from {teacher_layers}")
    idx = np.linspace(0, teacher_layers - 1, student_layers, dtype=int).tolist()
    idx[-1] = teacher_layers - 1
    return idx


def parse_arch(arch: str) -> tuple[int, int]:
    """`"32-16"` -> (32 encoder layers, 16 decoder layers)."""
    enc, _, dec = arch.partition("-")
    return int(enc), int(dec)


def init_student(*, teacher: str, encoder_layers: int, decoder_layers: int, out_dir: str | Path,
                 encoder_map: list[int] | None = None, decoder_map: list[int] | None = None) -> dict:
    """Build, check and save a student with processor and generation config; return its layer maps."""
    from transformers import AutoFeatureExtractor, AutoTokenizer, WhisperForConditionalGeneration

    t_model = WhisperForConditionalGeneration.from_pretrained(teacher)
    t_cfg = t_model.config
    enc = encoder_map or layer_map(t_cfg.encoder_layers, encoder_layers)
    dec = decoder_map or layer_map(t_cfg.decoder_layers, decoder_layers)
    for name, m, n, total in (("encoder", enc, encoder_layers, t_cfg.encoder_layers),
                              ("decoder", dec, decoder_layers, t_cfg.decoder_layers)):
        if len(m) != n or not all(0 <= i < total for i in m):
            raise ValueError(f"{name} layer map {m} does not fit {n} student layers of {total}")
    cfg = copy.deepcopy(t_cfg)
    cfg.encoder_layers, cfg.decoder_layers = encoder_layers, decoder_layers
    student = WhisperForConditionalGeneration(cfg)
    t_state = t_model.state_dict()
    student.load_state_dict(t_state, strict=False)  # embeddings, norms, heads; the layers are mapped below
    for side, mapping in (("encoder", enc), ("decoder", dec)):
        for s_i, t_i in enumerate(mapping):
            source = getattr(t_model.model, side).layers[t_i]
            getattr(student.model, side).layers[s_i].load_state_dict(source.state_dict())
    gen = copy.deepcopy(t_model.generation_config)
    gen.forced_decoder_ids = None
    student.eval()
    with torch.no_grad():  # the distil-whisper smoke test: a forward pass on one second of ones
        fe = AutoFeatureExtractor.from_pretrained(teacher)
        feats = fe(np.ones(16000, np.float32), sampling_rate=16000, return_tensors="pt").input_features
        out = student(input_features=feats, decoder_input_ids=torch.tensor([[cfg.decoder_start_token_id]]))
        if not torch.isfinite(out.logits).all():
            raise RuntimeError("student forward pass gave non-finite logits")
    maps = {"teacher": teacher, "encoder_layers": enc, "decoder_layers": dec,
            "encoder_shared": enc == list(range(t_cfg.encoder_layers)),
            "params": student.num_parameters(), "teacher_params": t_model.num_parameters()}
    save_whisper(student, AutoTokenizer.from_pretrained(teacher), gen, Path(out_dir), maps)
    log.info("student %d-%d from %s: encoder layers %s, decoder layers %s, %d params (teacher %d)",
             encoder_layers, decoder_layers, teacher, enc, dec, maps["params"], maps["teacher_params"])
    return maps
