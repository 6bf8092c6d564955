from udistil.logs import snakemake_job
from udistil.scores.jobs import run_wer

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_wer(smk.input.labels, smk.input.manifest, smk.params.normalizer, smk.output.score)
