import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def whisper_base(models_dir) -> Path:
    from udistil.models.assets import convert_packaged_whisper

    return convert_packaged_whisper("whisper-base", models_dir / "whisper-base")


@pytest.fixture(scope="session")
def whisper_tiny_en(models_dir) -> Path:
    from udistil.models.assets import convert_packaged_whisper

    return convert_packaged_whisper("whisper-tiny.en", models_dir / "whisper-tiny.en")


@pytest.fixture(scope="session")
def tiny_random_whisper(models_dir) -> Path:
    from udistil.models.specs import random_whisper

    spec = {"random": "whisper", "seed": 0, "tokenizer": "whisper-base", "config": {}}  # as validation fills it
    return random_whisper(spec, models_dir / "tiny-random-whisper")


@pytest.fixture(scope="session")
def tiny_random_ctc(models_dir) -> Path:
    from udistil.models.specs import random_ctc

    return random_ctc({"random": "ctc", "seed": 0, "config": {}}, models_dir / "tiny-random-ctc")
