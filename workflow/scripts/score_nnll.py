from udistil.logs import set_threads, snakemake_job
from udistil.scores.jobs import run_nnll

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    run_nnll(labels=smk.input.labels, model=smk.params.model, batch_size=smk.params.batch_size,
             device=smk.params.device, out=smk.output.score)
