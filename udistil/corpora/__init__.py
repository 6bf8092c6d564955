"""Corpus readers: each turns a config entry into manifest records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from udistil.manifest import Record


def corpus_records(name: str, spec: dict[str, Any], split: str, seed: int) -> Iterable[Record]:
    """Records of `split` of the corpus configured as `spec` (type synthetic, local or hf)."""
    kind = spec["type"]
    if kind == "synthetic":
        from udistil.corpora.synthetic import SyntheticSpec, synthetic_records

        synth = SyntheticSpec(voices=spec["voices"], conditions=spec["conditions"],
                              rate=tuple(spec.get("rate", (150, 200))), pitch=tuple(spec.get("pitch", (35, 65))))
        return synthetic_records(synth, spec["splits"][split], seed, name, split)
    if kind == "local":
        from udistil.corpora.local import local_records

        return local_records(spec["splits"][split], id_column=spec.get("id_column", "id"),
                             path_column=spec.get("path_column", "path"),
                             text_column=spec.get("text_column", "text"))
    if kind == "hf":
        from udistil.corpora.hf import hf_records

        return hf_records(spec["path"], spec["splits"][split], name=spec.get("name"),
                          from_disk=spec.get("from_disk", False), audio_column=spec.get("audio_column", "audio"),
                          text_column=spec.get("text_column", "text"), id_column=spec.get("id_column"),
                          max_rows=spec.get("max_rows"))
    raise ValueError(f"corpus '{name}': unknown type '{kind}'")
