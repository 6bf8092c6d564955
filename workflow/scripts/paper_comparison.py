from udistil.logs import snakemake_job
from udistil.paper import run_comparison

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_comparison(matrix_csv=smk.input.matrix, comparisons_csv=smk.input.comparisons, table1_csv=smk.input.table1,
                   cfg=dict(smk.params.paper), confidence=smk.params.confidence, out_claims=smk.output.claims,
                   out_side_by_side=smk.output.side_by_side, description=smk.params.description)
