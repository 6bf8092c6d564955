# Snakemake glue over udistil.plan (layout, grid, targets, settings): validation, wildcard constraints, input functions, targets.
import re
import sys
from pathlib import Path

from udistil.corpora import POOL_SPLIT
from udistil.plan import grid, hub, rows, settings, targets
from udistil.plan.layout import Layout, run_name
from udistil.config.validate import ConfigError, validate
from udistil.evaluate.evaluation import evaluation_decoding
from udistil.common.hub import cache_dir, uncached
from udistil.common.logs import set_offline
from udistil.models.specs import MATERIALISE_VERSION, is_materialised
from udistil.models.specs import location as model_location
from udistil.scores import teacher_stats

if not config:
    raise ValueError("no config: give --configfile FILE (profiles/default passes config.yaml, the demo)")
validate(config)  # fills every schema default: rules below read the filled config, never a default of their own
set_offline(config["offline"])

RUN = run_name(config, workflow.configfiles)  # outputs under results/<run>/, logs under logs/<run>/
LAYOUT = Layout(RUN)
logs, bench, manifest = LAYOUT.log, LAYOUT.bench, LAYOUT.manifest
PAPER_TABLE1 = str(Path(workflow.basedir) / "paper" / "table1.csv")  # shipped with the workflow
PAPER_TABLE3 = str(Path(workflow.basedir) / "paper" / "table3.csv")
MODELS, CORPORA, EVAL, TEACHER = config["models"], config["corpora"], config["evaluation"], config["teacher"]
SCORE_CFG, STUDENTS, SELECTION = config["scores"], config["students"], config["selection"]
ARCHS = STUDENTS["architectures"]
N_SHARDS = config["pseudo_label"]["shards"]
GPU = settings.gpus(config)
DECODING = settings.decoding(config)
EVAL_DECODING = evaluation_decoding(
    decoding=config["decoding"], evaluation=EVAL["decoding"], language=config["language"], task=config["task"]
)
CATEGORY_SETS = grid.category_sets(config)
LABELLED_POOLS = grid.labelled_pools(config)
LABEL_FREE_USED = grid.label_free_used(config)
STAND_INS = grid.stand_ins(config)
SONAR_STAND_IN = "sonar" in STAND_INS
STUDENT_NAMES = grid.student_names(config)
STUDENT = grid.student_name("{arch}", "{pool}", "{filter}", "{seed}")  # the students' wildcard pattern
EVAL_METRICS = targets.eval_files(config, LAYOUT, "json")
MATRIX_ROWS = [vars(r) for r in rows.config_matrix_rows(config)]
SEED_ROWS = [vars(r) for r in rows.seed_rows(rows.config_matrix_rows(config))]
HUB_REPOS = hub.hub_repos(config)  # what `snakemake fetch` downloads (rules/fetch.smk)
SONAR_ENCODERS = hub.sonar_encoders(config)
# offline: true with hub repos missing from the cache: a warning now (a dry run plans on), a config error when a
# real run starts any job but the downloads (onstart below, before the first job; docs/scaling.md)
UNCACHED = uncached(HUB_REPOS) if config["offline"] and HUB_REPOS else []
if UNCACHED:
    print(f"udistil: warning: {hub.offline_message(UNCACHED, cache_dir(), workflow.configfiles)}\n"
          "(a dry run plans on; a run of any job but `fetch` stops before it starts)", file=sys.stderr)


onstart:
    if UNCACHED and hub.needs_cache(job.rule.name for job in workflow.dag.needrun_jobs()):
        raise ConfigError(hub.offline_message(UNCACHED, cache_dir(), workflow.configfiles))


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    model=_alternatives(set(MODELS) | set(STUDENT_NAMES)),
    arch=_alternatives(ARCHS or ["0-0"]),
    corpus=_alternatives(CORPORA),
    split=_alternatives({s for c in CORPORA.values() for s in c["splits"]}),
    pool=_alternatives(config["pools"]),
    shard=r"\d+",
    filter=_alternatives(config["filters"]),
    seed=_alternatives(map(str, grid.training_seeds(config))),


def pool_manifest(wc):
    return manifest(wc.pool, POOL_SPLIT)


def model_input(name):
    """Snakemake input for a model: its folder when the workflow builds it, else nothing (hub, path)."""
    if grid.is_student(name):
        return [LAYOUT.student(name, "model")]
    return [LAYOUT.model_dir(name)] if is_materialised(MODELS[name]) else []


def model_param(name_of):
    """Params function: a model's location, taken from the job's `model` input when the workflow builds it."""

    def param(wc, input):
        name = name_of(wc)
        if name is None:  # the rule runs without a model of the config's (e.g. SONAR's own encoders)
            return None
        if name in MODELS and not is_materialised(MODELS[name]):
            return model_location(MODELS[name])
        folder = input.model
        return str(folder if isinstance(folder, str) else folder[0])

    return param


def eval_outputs(ext):
    """An `evaluate` job's outputs of one kind (parquet tables or json metrics), one per set and split."""
    return [LAYOUT.evaluation("{model}", c, s, ext) for c, s in grid.eval_pairs(config)]


def select_inputs(wc):
    inputs = {
        "labels": LAYOUT.pseudo_labels(wc.pool),
        "manifest": manifest(wc.pool, POOL_SPLIT),
        "scores": [LAYOUT.score(wc.pool, s) for s in grid.filter_scores(config, wc.filter)],
    }
    if settings.selection_rule(config, wc.filter)["mode"] == "match_supervised":
        inputs["supervised"] = LAYOUT.subset(wc.pool, "supervised", "json")
    return inputs


def proxy_transcripts(pool):
    """The proxy model's transcripts of a pool (the proxy score and the text-embedding stand-in read them)."""
    return LAYOUT.transcripts(pool, SCORE_CFG["proxy"]["model"])


def sonar_inputs(wc):
    inputs = {"labels": LAYOUT.pseudo_labels(wc.pool)}
    if SONAR_STAND_IN:
        inputs["transcripts"] = proxy_transcripts(wc.pool)
        inputs["model"] = model_input(SCORE_CFG["sonar"]["model"])
    else:
        inputs["manifest"] = manifest(wc.pool, POOL_SPLIT)
    return inputs


REPORTED = targets.reported_outputs(config, LAYOUT)
NOT_COMPUTED = targets.not_computed(config)
