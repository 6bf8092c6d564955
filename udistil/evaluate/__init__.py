"""Evaluation: a model on a manifest, per-utterance hypotheses and corpus-level WER/CER."""
