"""Errors about the pipeline's inputs, shared by the modules that read them."""

from __future__ import annotations


class ManifestError(ValueError):
    """Input that cannot become a manifest (missing file, duplicate ids, missing column)."""
