from udistil.common.logs import snakemake_job
from udistil.config.validate import write_config

with snakemake_job(snakemake):  # noqa: F821 - injected by Snakemake
    write_config(config=dict(snakemake.params.config), path=snakemake.output.config)  # noqa: F821
