from udistil.logs import snakemake_job
from udistil.plan import row_from_params
from udistil.tables import build_matrix_outputs

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    p = smk.params
    build_matrix_outputs(metric_paths=list(smk.input.metrics), table_paths=list(smk.input.tables),
                         rows=[row_from_params(r) for r in p.rows], sets=list(p.sets), benchmark=list(p.benchmark),
                         splits=list(p.splits), stand_ins=dict(p.stand_ins), resamples=p.resamples,
                         confidence=p.confidence, seed=p.seed, out_csv=smk.output.csv, out_md=smk.output.md,
                         out_tex=smk.output.tex, out_comparisons_csv=smk.output.comparisons,
                         out_comparisons_md=smk.output.comparisons_md, out_seeds_csv=smk.output.seeds,
                         out_spread_csv=smk.output.spread, description=p.description)
