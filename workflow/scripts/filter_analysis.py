from udistil.analysis import run_filter_analysis
from udistil.logs import snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_filter_analysis(list(smk.input.truth), list(smk.input.scores), smk.params.pools, smk.params.scores,
                        dict(smk.params.stand_ins), smk.output.csv, smk.output.md, smk.output.roc)
