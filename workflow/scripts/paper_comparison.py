from udistil.common.logs import snakemake_job
from udistil.results.paper import run_comparison

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    p = smk.params
    run_comparison(matrix_csv=smk.input.matrix, table_paths=list(smk.input.tables), table1_csv=smk.input.table1,
                   cfg=dict(p.paper), benchmark=list(p.benchmark), splits=list(p.splits), resamples=p.resamples,
                   seed=p.seed, cells=dict(p.cells), modes=dict(p.resample), confidence=p.confidence,
                   out_claims=smk.output.claims, out_side_by_side=smk.output.side_by_side, description=p.description)
