# Helpers and config validation only; no rules here.
import re

from udistil.config import POOL_SPLIT, validate
from udistil.logs import set_offline
from udistil.models import is_materialised
from udistil.models import location as model_location

validate(config)
set_offline(config.get("offline", True))

MODELS = config["models"]
CORPORA = config["corpora"]
EVAL = config["evaluation"]
TEACHER = config["teacher"]
N_SHARDS = config.get("pseudo_label", {}).get("shards", 1)
GPU = 1 if config.get("device") == "cuda" else 0
config.setdefault("device", "auto")
config.setdefault("precision", "fp32")
config.setdefault("normalizer", "basic")
config.setdefault("pseudo_label", {}).setdefault("flush_every", 1)


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    model=_alternatives(MODELS),
    corpus=_alternatives(CORPORA),
    split=_alternatives({s for c in CORPORA.values() for s in c["splits"]}),
    pool=_alternatives(config["pools"]),
    shard=r"\d+",


def model_dir(name):
    """Folder that the workflow builds for a packaged or random model."""
    return f"resources/models/{name}"


def model_input(name):
    """Snakemake input for a model: its folder when the workflow builds it, else nothing (hub, path)."""
    return [model_dir(name)] if is_materialised(MODELS[name]) else []


def location(name):
    """What the jobs pass to `from_pretrained` for a model name."""
    return model_location(MODELS[name], model_dir(name))


def materialised_models():
    return [m for m in MODELS if is_materialised(MODELS[m])]


def manifest(corpus, split):
    return f"results/manifests/{corpus}/{split}.parquet"


def pool_manifests():
    return [manifest(p, POOL_SPLIT) for p in config["pools"]]


def eval_manifests():
    return [manifest(c, s) for c in EVAL["sets"] for s in EVAL["splits"]]


def eval_models():
    return [TEACHER] + [m for m in EVAL.get("zero_shot", []) if m != TEACHER]


def eval_metrics():
    return [
        f"results/eval/{m}/{c}/{s}.json"
        for m in eval_models()
        for c in EVAL["sets"]
        for s in EVAL["splits"]
    ]


def final_outputs():
    return (
        [model_dir(m) for m in materialised_models()]
        + pool_manifests()
        + eval_manifests()
        + expand("results/pseudo_labels/{pool}.parquet", pool=config["pools"])
        + eval_metrics()
    )
