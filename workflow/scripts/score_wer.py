from udistil.common.logs import snakemake_job
from udistil.scores.jobs import run_wer

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_wer(labels=smk.input.labels, manifest=smk.input.manifest, norm_kind=smk.params.normalizer,
            out=smk.output.score)
