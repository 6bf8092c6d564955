from udistil.logs import snakemake_job
from udistil.paper import run_comparison

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_comparison(smk.input.matrix, smk.input.efficiency, smk.input.table1, dict(smk.params.paper),
                   smk.output.claims, smk.output.side_by_side)
