from udistil.config import write_config
from udistil.logs import snakemake_job

with snakemake_job(snakemake):  # noqa: F821 - injected by Snakemake
    write_config(config=dict(snakemake.params.config), path=snakemake.output.config)  # noqa: F821
