"""The smoke config end to end on a real single-node Slurm (started here unless it runs; stopped after if started
here: .ci/run keeps one running for the whole session).

CI installs Slurm (.ci/run -> .ci/slurm.sh install) and this test must run there; elsewhere it is skipped
when Slurm cannot be started (not root, or the packages are missing).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SLURM = ROOT / ".ci" / "slurm.sh"


@pytest.fixture(scope="module")
def slurm():
    in_ci = os.environ.get("CI") == "true"
    if not in_ci and (os.geteuid() != 0 or shutil.which("slurmctld") is None):
        pytest.skip("needs root and Debian's slurm-wlm (bash .ci/slurm.sh install)")
    running = subprocess.run(["bash", str(SLURM), "running"]).returncode == 0
    subprocess.run(["bash", str(SLURM), "start"], check=True)
    yield
    if not running:  # .ci/run starts Slurm for the whole session and stops it itself
        subprocess.run(["bash", str(SLURM), "stop"], check=False)


@pytest.mark.slurm
def test_smoke_config_through_the_slurm_executor(slurm, tmp_path):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--configfile",
           str(ROOT / "configs" / "smoke.yaml"), "-d", str(tmp_path), "--executor", "slurm",
           # profiles/slurm sizes jobs for the paper's GPUs; this 2-CPU node takes the rules' own requests
           "--workflow-profile", "none", "--jobs", "4", "--slurm-status-command", "squeue",
           "--slurm-init-seconds-before-status-checks", "5",
           "--slurm-keep-successful-logs", "--slurm-no-account", "--latency-wait", "10",
           "--default-resources", "mem_mb=2000", "runtime=30", "cpus_per_task=1"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    matrix = pd.read_csv(tmp_path / "results" / "smoke" / "tables" / "result_matrix.csv")  # run: smoke
    assert len(matrix) == 10
    # every output-producing job ran as a Slurm job: the executor kept a log per job, named by Slurm job id
    logs = tmp_path / ".snakemake" / "slurm_logs"
    matrix_logs = list((logs / "rule_result_matrix").rglob("*.log"))
    assert matrix_logs and all(p.stem.isdigit() for p in matrix_logs)
    assert "result_matrix" in matrix_logs[0].read_text()
    assert {p.name for p in logs.iterdir()} >= {"rule_distill", "rule_evaluate", "rule_pseudo_label_shard",
                                                 "rule_select_subset", "rule_filter_analysis"}
    assert "localrule result_matrix" not in proc.stdout + proc.stderr
