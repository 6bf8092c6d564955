"""Corpus readers: each turns a config entry into manifest records (`records.corpus_records` picks the reader
of a corpus's type). This package imports nothing, so that `udistil.config` can read `conditions` cheaply."""
