import copy
from pathlib import Path

import pytest
import yaml

from udistil.config import ConfigError, validate

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "config.yaml", *sorted((ROOT / "configs").glob("*.yaml"))]


@pytest.fixture
def default():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    validate(yaml.safe_load(path.read_text()))


def test_unknown_top_level_key_is_named(default):
    default["bogus_key"] = 1
    with pytest.raises(ConfigError, match="bogus_key"):
        validate(default)


def test_wrong_type_names_nested_key(default):
    default["corpora"]["clean"]["splits"]["test"] = "twenty"
    with pytest.raises(ConfigError, match=r"corpora\.clean\.splits\.test"):
        validate(default)


def test_unknown_condition_names_key(default):
    default["corpora"]["noisy"]["conditions"].append("thunder@3")
    with pytest.raises(ConfigError, match=r"corpora\.noisy\.conditions\.\d+.*thunder"):
        validate(default)


def test_unknown_model_reference(default):
    default["teacher"] = "whisper-huge"
    with pytest.raises(ConfigError, match=r"'teacher'.*whisper-huge"):
        validate(default)


def test_unknown_packaged_asset(default):
    default["models"]["whisper-base"] = {"packaged": "whisper-small"}
    with pytest.raises(ConfigError, match=r"models\.whisper-base"):
        validate(default)


def test_pool_needs_train_split(default):
    cfg = copy.deepcopy(default)
    cfg["pools"] = ["clean"]
    with pytest.raises(ConfigError, match=r"corpora\.clean\.splits.*train"):
        validate(cfg)


def test_eval_split_must_exist(default):
    default["evaluation"]["splits"] = ["test", "dev"]
    with pytest.raises(ConfigError, match=r"no split 'dev'"):
        validate(default)
