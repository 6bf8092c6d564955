"""Child Python processes that import this udistil. A job's environment need not install it (envs/udistil.yaml
does not: jobs import it from the workflow's folder), so a child finds it through PYTHONPATH."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding this `udistil` package (the workflow's folder in a checkout)."""


def python_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with PYTHONPATH led by the folder of this udistil."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), out.get("PYTHONPATH", "")) if p)
    return out
