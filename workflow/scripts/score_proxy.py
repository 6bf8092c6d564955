from udistil.common.logs import snakemake_job
from udistil.scores.jobs import run_proxy

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_proxy(labels=smk.input.labels, transcripts=smk.input.transcripts, norm_kind=smk.params.normalizer,
              out=smk.output.score)
