"""distil-whisper's loss: ce_weight x cross-entropy on the pseudo-labels + kl_weight x KL(teacher || student) x T^2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from udistil.distill.settings import TrainConfig


def cross_entropy(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the label positions, on (batch x width, vocab) rows: 2-D `nll_loss`, which has a
    deterministic CUDA kernel, where `F.cross_entropy` on (batch, vocab, width) runs `nll_loss2d`, which raises
    under `torch.use_deterministic_algorithms(True)`. The log-softmax is taken over the same (transposed) layout
    as that call, and the rows keep their order with padding ignored, so on a CPU value and gradient are
    bit-identical to it (tests/test_distill.py)."""
    log_probs = F.log_softmax(student_logits.float().transpose(1, 2), dim=1).transpose(1, 2)
    return F.nll_loss(log_probs.reshape(-1, log_probs.shape[-1]), labels.reshape(-1), ignore_index=-100)


def label_rows(labels: torch.Tensor) -> torch.Tensor:
    """The flat (batch x width) indices of the label positions. Finding them waits for the device, so training
    finds them on the host, before the labels move."""
    return (labels != -100).reshape(-1).nonzero().squeeze(1)


def kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, rows: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """KL(teacher || student) at temperature T over the label positions `rows` (`label_rows`): summed over the
    vocabulary, averaged over tokens, times T^2 (distil-whisper's `kl_divergence`)."""
    vocab = student_logits.shape[-1]
    s = F.log_softmax(student_logits.reshape(-1, vocab)[rows].float() / temperature, dim=-1)
    t = F.softmax(teacher_logits.reshape(-1, vocab)[rows].float() / temperature, dim=-1)
    kl = F.kl_div(s, t, reduction="none").sum(-1)
    return kl.mean() * temperature**2 if rows.numel() else student_logits.sum() * 0


def distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                 cfg: TrainConfig, rows: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The loss and its two terms; `rows`: `label_rows(labels)`, computed here when not given."""
    rows = label_rows(labels) if rows is None else rows
    ce = cross_entropy(student_logits, labels)
    kl = kl_loss(student_logits, teacher_logits, rows, cfg.temperature)
    return {"loss": cfg.ce_weight * ce + cfg.kl_weight * kl, "ce": ce, "kl": kl}
