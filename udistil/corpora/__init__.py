"""Corpus readers: each turns a config entry into manifest records (`records.corpus_records` picks the reader
of a corpus's type). This package imports nothing, so that `udistil.config.validate` can read `conditions` cheaply."""

POOL_SPLIT = "train"  # the split of a pool corpus that is pseudo-labelled and filtered; every other is evaluated
