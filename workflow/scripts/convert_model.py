from udistil.common.logs import snakemake_job
from udistil.models.specs import materialise

with snakemake_job(snakemake):  # noqa: F821 - injected by Snakemake
    materialise(spec=snakemake.params.spec, out_dir=snakemake.output.model)  # noqa: F821
