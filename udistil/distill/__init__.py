"""Distillation of a Whisper student on pseudo-labels: 0.8 x CE + 1.0 x KL(T=2) x T^2, as distil-whisper.

Beyond distil-whisper: encoder states are computed once per clip (shared by teacher and student when the
student keeps the teacher's frozen encoder) and read from the encoder cache; every step's data and
conditioning come from RNGs seeded by (seed, step), and checkpoints hold model, optimiser, scheduler and
loss history, so a run killed after a checkpoint resumes to the same weights as an uninterrupted one.

The package exports only its settings: the training itself (`udistil.distill.train.distill`) imports torch,
transformers and accelerate, which the job that only launches the training processes does not need.
"""

from udistil.distill.settings import TrainConfig, ValidationConfig

__all__ = ["TrainConfig", "ValidationConfig"]
