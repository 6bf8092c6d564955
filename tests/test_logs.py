"""udistil.common.logs: a job's records, stderr and warnings go to its log file; the offline switch; threads."""

import logging
import os
import sys
import warnings
from types import SimpleNamespace

import pytest

from udistil.common.logs import OFFLINE_VARS, job_logging, set_threads, snakemake_job


@pytest.fixture
def online(monkeypatch):
    for var in OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)


def test_the_log_file_gets_records_stderr_and_warnings(tmp_path, online):
    stderr, handlers = sys.stderr, list(logging.getLogger().handlers)
    with job_logging(str(tmp_path / "job.log"), offline=True) as log:
        log.info("from the job")
        logging.getLogger("udistil.scores.jobs").info("from a library module")
        logging.getLogger("udistil.x").debug("below INFO")
        print("to stderr", file=sys.stderr)
        warnings.warn("a captured warning", UserWarning, stacklevel=1)
        assert all(os.environ[v] == "1" for v in OFFLINE_VARS)
    text = (tmp_path / "job.log").read_text()
    for line in ("INFO udistil.job: from the job", "INFO udistil.scores.jobs: from a library module", "to stderr",
                 "a captured warning"):
        assert line in text
    assert "below INFO" not in text
    assert sys.stderr is stderr and logging.getLogger().handlers == handlers  # all undone


def test_a_failing_job_logs_its_traceback(tmp_path, online):
    with pytest.raises(RuntimeError, match="boom"), job_logging(str(tmp_path / "fail.log"), offline=False):
        raise RuntimeError("boom")
    text = (tmp_path / "fail.log").read_text()
    assert "ERROR udistil.job: job failed" in text and "RuntimeError: boom" in text
    assert not any(v in os.environ for v in OFFLINE_VARS)


def test_snakemake_job_takes_the_log_and_offline_switch_from_the_job(tmp_path, online, capsys):
    smk = SimpleNamespace(log=[str(tmp_path / "s.log")], config={"offline": True})
    with snakemake_job(smk) as log:
        log.info("with a log file")
    assert "with a log file" in (tmp_path / "s.log").read_text() and os.environ["HF_HUB_OFFLINE"] == "1"
    with snakemake_job(SimpleNamespace(log=[], config={"offline": False})) as log:
        log.info("without a log file")
    assert "without a log file" in capsys.readouterr().err and "HF_HUB_OFFLINE" not in os.environ


def test_every_snakemake_job_runs_under_the_deterministic_setting(tmp_path, online):
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    for deterministic in (True, False):
        log = tmp_path / f"{deterministic}.log"
        smk = SimpleNamespace(log=[str(log)], config={"offline": True, "deterministic": deterministic})
        with snakemake_job(smk):
            assert torch.are_deterministic_algorithms_enabled() is (deterministic or before)
        assert torch.are_deterministic_algorithms_enabled() is before  # restored when the job's work ends
        assert ("cuBLAS workspace :4096:8" in log.read_text()) is deterministic


def test_set_threads(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    set_threads(3)
    set_threads(0)
    assert calls == [3, 1]  # at least one thread
