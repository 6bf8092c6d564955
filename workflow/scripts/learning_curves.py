from udistil.common.logs import snakemake_job
from udistil.results.plots import learning_curves as plot
from udistil.results.table_io import write_csv
from udistil.results.tables import learning_curves

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    table = learning_curves(dict(zip(smk.params.students, smk.input.curves, strict=True)),
                            smk.config["students"]["validation"]["min_delta"])
    write_csv(table, smk.output.csv)
    plot(table, smk.output.png)
