"""Config validation: the JSON schema first, then the names that refer to each other."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from udistil.common.fileio import write_text
from udistil.corpora import POOL_SPLIT
from udistil.corpora.conditions import condition_errors
from udistil.corpora.formats import split_errors
from udistil.corpora.neural_tts import is_neural, voice_errors
from udistil.corpora.packaged import dataset_errors
from udistil.plan.grid import has_text, pool_filters
from udistil.scores import configured, label_free
from udistil.selection import filters as filter_registry

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


def registry_enums() -> dict[str, list[str]]:
    """The schema's `$defs` whose allowed values are the registries' names: every filter, every label-free score."""
    return {"filter": filter_registry.names(), "label_free_score": label_free()}


def load_schema(path: str | Path = SCHEMA) -> dict[str, Any]:
    """The schema, its registry `$defs` read from the registries (so that a filter registered in code validates)."""
    schema = yaml.safe_load(Path(path).read_text())
    schema["$defs"].update({name: {"enum": values} for name, values in registry_enums().items()})
    return schema


def schema_text(text: str) -> str:
    """The schema file's text with its registry `$defs` lines written from the registries (`make docs`)."""
    for name, values in registry_enums().items():
        line = f"  {name}: {{enum: [{', '.join(values)}]}}"
        text, n = re.subn(rf"^  {name}: \{{enum: \[[^\]]*\]\}}$", line, text, flags=re.M)
        if n != 1:
            raise ValueError(f"schema: no single line '  {name}: {{enum: [...]}}' under $defs to regenerate")
    return text


class ConfigError(ValueError):
    """A config that does not validate; the message names every offending key."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _filling_validator(schema: dict[str, Any]):
    """A Draft 2020-12 validator that fills each absent property that has a `default:` before checking it."""
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, subschema):
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": properties})(schema)


def schema_errors(config: dict[str, Any], schema_path: str | Path = SCHEMA) -> list[str]:
    """Check `config` against the schema, filling every absent key that has a default (in place)."""
    validator = _filling_validator(load_schema(schema_path))
    errors = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        leaves = err.context or [err]  # oneOf/anyOf: report the branch errors
        best = min(leaves, key=lambda e: len(e.absolute_path))
        errors.append(f"config key '{_key(err.absolute_path)}': {best.message}")
    return errors


def reference_errors(config: dict[str, Any]) -> list[str]:
    """Names used in one place must be defined in another (on a config whose defaults are filled)."""
    errors = []
    models, corpora, scores = config["models"], config["corpora"], config["scores"]

    def need_model(key: str, name: str) -> None:
        if name not in models:
            errors.append(f"config key '{key}': unknown model '{name}'; defined in 'models': {sorted(models)}")

    need_model("teacher", config["teacher"])
    for name in config["evaluation"]["zero_shot"]:
        need_model("evaluation.zero_shot", name)
    for name, corpus in corpora.items():
        if corpus["type"] == "synthetic":
            errors += [f"config key 'corpora.{name}.conditions.{i}': {e}"
                       for i, e in condition_errors(corpus["conditions"]).items()]
            errors += [f"config key 'corpora.{name}.voices.{i}': {e}" for i, v in enumerate(corpus["voices"])
                       if is_neural(v) for e in voice_errors(v)]
        if corpus["type"] == "packaged":
            errors += [f"config key 'corpora.{name}.datasets.{i}': {e}"
                       for i, e in dataset_errors(corpus["datasets"]).items()]
        if corpus["type"] == "local":
            errors += [f"config key 'corpora.{name}.splits.{split}': {e}" for split, e in split_errors(corpus).items()]
    for pool in config["pools"]:
        if pool not in corpora:
            errors.append(f"config key 'pools': unknown corpus '{pool}'; defined: {sorted(corpora)}")
        elif POOL_SPLIT not in corpora[pool]["splits"]:
            errors.append(f"config key 'corpora.{pool}.splits': a pool needs a '{POOL_SPLIT}' split")
    for score in ("proxy", "nnll"):
        if score in scores:
            need_model(f"scores.{score}.model", scores[score]["model"])
    if scores.get("sonar", {}).get("backend") == "text_embedding":
        need_model("scores.sonar.model", scores["sonar"]["model"])
        if "proxy" not in scores:
            errors.append("config key 'scores.sonar': the text_embedding stand-in compares with the proxy "
                          "transcript, so 'scores.proxy' must be configured")
    filters = config["filters"]
    for pool, own in config["filters_per_pool"].items():
        if pool not in config["pools"]:
            errors.append(f"config key 'filters_per_pool.{pool}': '{pool}' is not a pool; pools: {config['pools']}")
        extra = [f for f in own if f not in filters]
        if extra:
            errors.append(f"config key 'filters_per_pool.{pool}': filters {extra} are not in 'filters' {filters}")
    combined = config["selection"].get("combined", {}).get("scores", [])  # the section is optional
    for key, names in (("filters", filters), ("selection.combined.scores", combined)):
        for name in names:
            if name in configured() and name not in scores:
                errors.append(f"config key 'scores.{name}': missing; filter '{name}' (in '{key}') needs it")
    if "combined" in filters and not combined:
        errors.append("config key 'selection.combined': missing; filter 'combined' (in 'filters') needs it")
    labelled = {p: has_text(corpora[p]) for p in config["pools"] if p in corpora}  # a local corpus's files looked at
    for name in filters:
        unlabelled = [p for p in labelled if not labelled[p] and name in pool_filters(config, p)]
        if unlabelled and filter_registry.needs_labels(name, config["selection"]):
            errors.append(f"config key 'filters': '{name}' needs ground truth, which pools {unlabelled} lack")
    errors += match_supervised_errors(config)
    ev = config["evaluation"]
    for key in ("sets", "benchmark"):
        for name in ev[key] or []:
            if name not in corpora:
                errors.append(f"config key 'evaluation.{key}': unknown corpus '{name}'; defined: {sorted(corpora)}")
            elif key == "sets":
                errors += [f"config key 'corpora.{name}.splits': no split '{s}' (evaluation.splits)"
                           for s in ev["splits"] if s not in corpora[name]["splits"]]
    for name, column in ev["categories"].items():
        if name not in ev["sets"]:
            errors.append(f"config key 'evaluation.categories.{name}': not an evaluation set; sets: {ev['sets']}")
        elif name in corpora and corpora[name]["type"] == "hf" and column not in corpora[name]["meta_columns"]:
            errors.append(f"config key 'evaluation.categories.{name}': column '{column}' is not in "
                          f"'corpora.{name}.meta_columns', so the manifest lacks it")
    errors += [f"config key 'evaluation.resample.{name}': not an evaluation set; sets: {ev['sets']}"
               for name in ev["resample"] if name not in ev["sets"]]
    val = config["students"]["validation"]
    if val["set"] is not None:
        if val["set"] not in corpora:
            errors.append(f"config key 'students.validation.set': unknown corpus '{val['set']}'; "
                          f"defined: {sorted(corpora)}")
        elif val["split"] not in corpora[val["set"]]["splits"]:
            errors.append(f"config key 'students.validation.split': corpus '{val['set']}' has no split "
                          f"'{val['split']}'")
        elif not has_text(corpora[val["set"]]):
            errors.append(f"config key 'students.validation.set': corpus '{val['set']}' has no reference text")
        elif val["set"] in ev["sets"] and val["split"] in ev["splits"]:
            errors.append(f"config keys 'students.validation.set' and 'students.validation.split': early stopping "
                          f"and the kept checkpoint are chosen on {val['set']}/{val['split']}, which "
                          "'evaluation.sets' and 'evaluation.splits' also report as a result; validate on a split "
                          "that is not evaluated (e.g. a 'dev' split of the corpus)")
    return errors


def match_supervised_errors(config: dict[str, Any]) -> list[str]:
    """A filter that keeps as many clips as the supervised filter (`match_supervised`) needs that filter's subset
    from the same pool: a pool with ground truth that trains `supervised`. One error per config key."""
    corpora, errors = config["corpora"], {}
    for pool in config["pools"]:
        if pool not in corpora:
            continue
        own = pool_filters(config, pool)
        if not has_text(corpora[pool]):
            why = f"pool '{pool}' has no transcripts"
        elif "supervised" not in own:
            why = f"pool '{pool}' trains no 'supervised' filter"
        else:
            continue
        for name in own:
            if filter_registry.selection_rule(name, config["selection"])["mode"] == "match_supervised":
                key = filter_registry.rule_key(name, config["selection"])
                errors.setdefault(key, (
                    f"config key '{key}': mode match_supervised keeps as many clips as the supervised filter, but "
                    f"{why} (filter '{name}'); write a rule that needs no labels instead, e.g. "
                    "{mode: fraction, value: 0.5} (the better-scored half) or {mode: threshold, value: <score>} "
                    "(docs/results.md, selection modes)"))
    return list(errors.values())


def validate(config: dict[str, Any], schema_path: str | Path = SCHEMA) -> dict[str, Any]:
    """Fill the schema's defaults into `config` (in place) and return it; raise ConfigError naming every bad key."""
    errors = schema_errors(config, schema_path)
    if not errors:
        errors = reference_errors(config)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return config


def filled(path: str | Path) -> dict[str, Any]:
    """The config in a YAML file as a run uses it: validated, every default filled."""
    return validate(yaml.safe_load(Path(path).read_text()) or {})


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def write_config(*, config: dict[str, Any], path: str | Path) -> None:
    """Write the filled config a run uses (atomically), for provenance beside its results."""
    write_text(dump(config), path)


if __name__ == "__main__":  # python -m udistil.config.validate [FILE]: print the filled config (make config)
    import sys

    print(dump(filled(sys.argv[1] if len(sys.argv) > 1 else SCHEMA.parent.parent / "config.yaml")), end="")
