# Helpers and config validation only; no rules here.
import re

from udistil.config import POOL_SPLIT, validate
from udistil.logs import set_offline
from udistil.models import is_materialised

validate(config)
set_offline(config.get("offline", True))

MODELS = config["models"]
CORPORA = config["corpora"]
EVAL = config["evaluation"]


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    model=_alternatives(MODELS),
    corpus=_alternatives(CORPORA),
    split=_alternatives({s for c in CORPORA.values() for s in c["splits"]}),


def model_dir(name):
    """Folder that the workflow builds for a packaged or random model."""
    return f"resources/models/{name}"


def model_input(name):
    """Snakemake input for a model: its folder when the workflow builds it, else nothing (hub, path)."""
    return [model_dir(name)] if is_materialised(MODELS[name]) else []


def materialised_models():
    return [m for m in MODELS if is_materialised(MODELS[m])]


def manifest(corpus, split):
    return f"results/manifests/{corpus}/{split}.parquet"


def pool_manifests():
    return [manifest(p, POOL_SPLIT) for p in config["pools"]]


def eval_manifests():
    return [manifest(c, s) for c in EVAL["sets"] for s in EVAL["splits"]]


def final_outputs():
    return [model_dir(m) for m in materialised_models()] + pool_manifests() + eval_manifests()
