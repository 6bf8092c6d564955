from udistil.common.logs import snakemake_job
from udistil.results.analysis import run_filter_analysis

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_filter_analysis(truth_paths=list(smk.input.truth), score_paths=list(smk.input.scores),
                        pools=list(smk.params.pools), scores=list(smk.params.scores),
                        stand_ins=dict(smk.params.stand_ins), resamples=smk.params.resamples,
                        confidence=smk.params.confidence, seed=smk.params.seed, out_csv=smk.output.csv,
                        out_md=smk.output.md, out_roc=smk.output.roc)
