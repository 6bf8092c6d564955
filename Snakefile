# uDistil-Whisper: label-free data filtering for Whisper distillation, raw corpora to result matrix.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/assets.smk"
include: "rules/corpora.smk"
include: "rules/pseudo_label.smk"
include: "rules/scores.smk"
include: "rules/select.smk"
include: "rules/students.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
