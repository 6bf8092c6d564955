from udistil.common.logs import snakemake_job
from udistil.labels.pseudo_label import gather_shards

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    gather_shards(shards=list(smk.input.shards), manifest_path=smk.input.manifest, output=smk.output.transcripts)
