"""Distillation of a Whisper student on pseudo-labels: 0.8 x CE + 1.0 x KL(T=2) x T^2, as distil-whisper.

Beyond distil-whisper: encoder states are computed once per clip (shared by teacher and student when the
student keeps the teacher's frozen encoder) and read from the encoder cache; every step's data and
conditioning come from RNGs seeded by (seed, step), and checkpoints hold model, optimiser, scheduler and
loss history, so a run killed after a checkpoint resumes to the same weights as an uninterrupted one.
"""

from udistil.distill.settings import TrainConfig
from udistil.distill.train import distill
from udistil.distill.validation import ValidationConfig

__all__ = ["TrainConfig", "ValidationConfig", "distill"]
