"""distil-whisper's loss: ce_weight x cross-entropy on the pseudo-labels + kl_weight x KL(teacher || student) x T^2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from udistil.distill.settings import TrainConfig


def kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """KL(teacher || student) at temperature T over label positions: summed over the vocabulary, averaged
    over tokens, times T^2 (distil-whisper's `kl_divergence`)."""
    mask = labels != -100
    s = F.log_softmax(student_logits[mask].float() / temperature, dim=-1)
    t = F.softmax(teacher_logits[mask].float() / temperature, dim=-1)
    kl = F.kl_div(s, t, reduction="none").sum(-1)
    return kl.mean() * temperature**2 if kl.numel() else student_logits.sum() * 0


def distill_loss(student_logits, teacher_logits, labels, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    ce = F.cross_entropy(student_logits.float().transpose(1, 2), labels, ignore_index=-100)
    kl = kl_loss(student_logits, teacher_logits, labels, cfg.temperature)
    return {"loss": cfg.ce_weight * ce + cfg.kl_weight * kl, "ce": ce, "kl": kl}
