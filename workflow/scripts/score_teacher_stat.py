from udistil.common.logs import snakemake_job
from udistil.scores.jobs import run_teacher_stat

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_teacher_stat(labels=smk.input.labels, stat=smk.wildcards.stat, out=smk.output.score)
