from udistil.common.logs import set_threads, snakemake_job
from udistil.scores.nnll import run_nnll

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    run_nnll(labels=smk.input.labels, cfg=dict(smk.params.cfg), model=smk.params.model, device=smk.params.device,
             out=smk.output.score)
