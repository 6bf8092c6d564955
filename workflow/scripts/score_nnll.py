from udistil.logs import set_threads, snakemake_job
from udistil.scores.jobs import run_nnll

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    run_nnll(smk.input.labels, smk.params.model, smk.params.batch_size, smk.config["device"], smk.output.score)
