from udistil.common.logs import snakemake_job
from udistil.results.plots import run_plots

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_plots(matrix_csv=smk.input.matrix, efficiency_csv=smk.input.efficiency, truth_paths=list(smk.input.truth),
              score_paths=list(smk.input.scores), metric_paths=list(smk.input.metrics), sets=list(smk.params.sets),
              stand_ins=dict(smk.params.stand_ins), out_by_filter=smk.output.by_filter,
              out_score_vs_wer=smk.output.score_vs_wer, out_speed=smk.output.speed)
