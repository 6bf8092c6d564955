from udistil.logs import snakemake_job
from udistil.pseudo_label import gather_shards

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    gather_shards(list(smk.input.shards), smk.input.manifest, smk.output.labels)
