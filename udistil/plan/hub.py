"""What a config takes from the Hugging Face hub, for the `fetch` target (rules/fetch.smk) and the offline check
(rules/common.smk): every hub model and hub dataset the config names, the SONAR encoders, and the error a run
gets when `offline: true` and some are not in the cache."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

from udistil.common.hub import HubRepo

FETCH_RULES = frozenset({"fetch", "fetch_sonar"})
"""The rules that download (and so run whatever the cache holds); any other job needs the cache filled."""

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
"""A hub repo id ("name" or "org/name"), as `datasets.load_dataset` tells one from a local path."""


def hub_repos(config: dict[str, Any]) -> list[HubRepo]:
    """The hub repos of a filled config, in config order: each model with a `hub` id (key
    `models.<name>.hub`), then each `hf` corpus read from the hub (not `from_disk`; key `corpora.<name>.path`).
    Packaged, random and local models and corpora need nothing."""
    repos = [HubRepo(f"models.{name}.hub", spec["hub"], "model")
             for name, spec in config["models"].items() if "hub" in spec]
    repos += [HubRepo(f"corpora.{name}.path", spec["path"], "dataset")
              for name, spec in config["corpora"].items()
              if spec["type"] == "hf" and not spec["from_disk"] and HUB_ID.match(spec["path"])]
    return repos


def sonar_encoders(config: dict[str, Any]) -> dict[str, str]:
    """The encoders the real SONAR backend loads (`speech_encoder`, `text_encoder`; sonar-space downloads them
    itself, not from the hub); empty for its text-embedding stand-in or without the score."""
    sonar = config["scores"].get("sonar")
    if not sonar or sonar["backend"] != "sonar":
        return {}
    return {key: sonar[key] for key in ("speech_encoder", "text_encoder")}


def needs_cache(rules: Iterable[str]) -> bool:
    """Whether jobs of these rules read the hub cache: any job but the downloads themselves."""
    return any(rule not in FETCH_RULES for rule in rules)


def fetch_command(configfiles: Iterable[str]) -> str:
    """The command that fills the cache for this config."""
    files = [str(f) for f in configfiles]
    return shlex.join(["snakemake", "fetch", *(["--configfile", *files] if files else [])])


def offline_message(missing: list[HubRepo], cache: str, configfiles: Iterable[str]) -> str:
    """Why a run with `offline: true` cannot start: each uncached repo with its config key, and the fix."""
    lines = [f"config key '{r.key}': {r.repo_type} {r.repo_id}" for r in missing]
    return (f"config key 'offline' is true, and {len(missing)} hub repo(s) the config names are not in the "
            f"Hugging Face cache ({cache}); jobs cannot download them:\n  " + "\n  ".join(lines)
            + "\nFetch them first, where the hub is reachable and with the HF_HOME (or HF_HUB_CACHE) the jobs "
            f"use:\n  {fetch_command(configfiles)}\nor set `offline: false` where every job reaches the hub.")
