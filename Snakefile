# uDistil-Whisper: label-free data filtering for Whisper distillation, raw corpora to result matrix.
from snakemake.utils import min_version

from udistil.results.summary import run_summary

min_version("9.0")


# No `configfile:` here: profiles/default/config.yaml gives `configfile: config.yaml` (the embedded demo), and a
# --configfile on the command line replaces it (command-line options override profile values), so a given config
# stands alone: what it leaves out takes the schema's default (rules/common.smk validates and fills).


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/config.smk"
include: "rules/assets.smk"
include: "rules/corpora.smk"
include: "rules/pseudo_label.smk"
include: "rules/scores.smk"
include: "rules/select.smk"
include: "rules/export.smk"
include: "rules/students.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/release.smk"
include: "rules/fetch.smk"


rule all:
    input:
        targets.final_outputs(config, LAYOUT),
    default_target: True


onsuccess:
    print(run_summary(LAYOUT.root, NOT_COMPUTED))
