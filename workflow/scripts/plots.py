from udistil.logs import snakemake_job
from udistil.plots import run_plots

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_plots(smk.input.matrix, smk.input.efficiency, list(smk.input.truth), list(smk.input.scores),
              list(smk.input.metrics), list(smk.params.sets), dict(smk.params.stand_ins), smk.output.by_filter,
              smk.output.score_vs_wer, smk.output.speed)
