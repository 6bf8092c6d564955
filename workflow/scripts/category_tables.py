from udistil.common.logs import snakemake_job
from udistil.results.paper import run_category_tables

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_category_tables(metric_paths=list(smk.input.metrics), rows=list(smk.params.rows),
                        table3_csv=smk.input.table3, cfg=dict(smk.params.paper),
                        category_set=smk.params.category_set, out_csv=smk.output.csv,
                        out_side_by_side=smk.output.side_by_side)
