# uDistil-Whisper: label-free data filtering for Whisper distillation, raw corpora to result matrix.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded demo runs when no --configfile is given. A config given with --configfile stands alone: it is not
# merged onto config.yaml; what it leaves out takes the schema's default (rules/common.smk validates and fills).
if not workflow.overwrite_configfiles:

    configfile: Path(workflow.basedir) / "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/config.smk"
include: "rules/assets.smk"
include: "rules/corpora.smk"
include: "rules/pseudo_label.smk"
include: "rules/scores.smk"
include: "rules/select.smk"
include: "rules/students.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/release.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
