from udistil.logs import snakemake_job
from udistil.scores.jobs import run_pesq

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_pesq(smk.input.labels, smk.input.manifest, smk.params.cfg, smk.output.score)
