from udistil.common.logs import snakemake_job
from udistil.plan.rows import row_from_params
from udistil.results.intervals import Resampling
from udistil.results.tables import MatrixFiles, MatrixSpec, build_matrix_outputs

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    p, o = smk.params, smk.output
    build_matrix_outputs(
        metric_paths=list(smk.input.metrics), table_paths=list(smk.input.tables),
        spec=MatrixSpec(rows=[row_from_params(r) for r in p.rows], sets=list(p.sets), benchmark=list(p.benchmark),
                        splits=list(p.splits), stand_ins=dict(p.stand_ins), description=p.description,
                        resample=dict(p.resample)),
        resampling=Resampling(p.resamples, p.confidence, p.seed),
        out=MatrixFiles(csv=o.csv, md=o.md, tex=o.tex, comparisons_csv=o.comparisons, comparisons_md=o.comparisons_md,
                        seeds_csv=o.seeds, spread_csv=o.spread, errors=o.errors))
