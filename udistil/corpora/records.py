"""A configured corpus as manifest records, by its type (synthetic, local, hf or packaged)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from udistil.corpora.hf import hf_records
from udistil.corpora.local import local_records
from udistil.corpora.manifest import Record
from udistil.corpora.packaged import packaged_records
from udistil.corpora.synthetic import SyntheticSpec, synthetic_records


def corpus_records(*, name: str, spec: dict[str, Any], split: str, seed: int) -> Iterable[Record]:
    """Records of `split` of the corpus configured as `spec` (type synthetic, local, hf or packaged;
    defaults filled)."""
    kind = spec["type"]
    if kind == "synthetic":
        synth = SyntheticSpec(voices=spec["voices"], conditions=spec["conditions"], rate=tuple(spec["rate"]),
                              pitch=tuple(spec["pitch"]))
        return synthetic_records(synth, spec["splits"][split], seed, name, split)
    if kind == "local":
        return local_records(spec["splits"][split], format=spec["format"], id_column=spec["id_column"],
                             path_column=spec["path_column"], text_column=spec["text_column"],
                             group_column=spec["group_column"])
    if kind == "hf":
        return hf_records(spec["path"], spec["splits"][split], name=spec["name"], from_disk=spec["from_disk"],
                          audio_column=spec["audio_column"], text_column=spec["text_column"],
                          id_column=spec["id_column"], max_rows=spec["max_rows"],
                          meta_columns=spec["meta_columns"], streaming=spec["streaming"],
                          group_column=spec["group_column"])
    if kind == "packaged":
        return packaged_records(name, spec["datasets"], spec["splits"], split)
    raise ValueError(f"corpus '{name}': unknown type '{kind}'")


def manifest_options(spec: dict[str, Any]) -> dict[str, Any]:
    """`build_manifest`'s `workers` and `link_audio` for the corpus configured as `spec` (defaults filled): a
    synthetic or packaged corpus converts in this process and has no files of its own to point at."""
    return {"workers": spec.get("workers", 1), "link_audio": spec.get("link_audio", False)}
