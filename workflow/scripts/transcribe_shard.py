from udistil.common.logs import set_threads, snakemake_job
from udistil.labels.decoding import DecodeOptions
from udistil.labels.pseudo_label import transcribe_shard

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    transcribe_shard(manifest_path=smk.input.manifest, model=smk.params.model,
                     options=DecodeOptions.from_section(dict(smk.params.decoding)), output=smk.output.shard,
                     shard=smk.params.shard, n_shards=smk.params.n_shards, flush_every=smk.params.flush_every,
                     device=smk.params.device, precision=smk.params.precision, cache=dict(smk.params.cache),
                     statistics=smk.params.statistics)
