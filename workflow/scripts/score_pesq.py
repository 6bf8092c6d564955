from udistil.common.logs import snakemake_job
from udistil.scores.pesq import run_pesq

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_pesq(labels=smk.input.labels, manifest=smk.input.manifest, cfg=dict(smk.params.cfg), out=smk.output.score)
