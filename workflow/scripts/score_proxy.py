from udistil.logs import snakemake_job
from udistil.scores.jobs import run_proxy

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_proxy(smk.input.labels, smk.input.transcripts, smk.params.normalizer, smk.output.score)
