from udistil.decoding import DecodeOptions
from udistil.logs import set_threads, snakemake_job
from udistil.pseudo_label import pseudo_label_shard

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    options = DecodeOptions.from_config(smk.config, dict(smk.params.decoding))
    pseudo_label_shard(smk.input.manifest, smk.params.model, options, smk.output.shard, shard=smk.params.shard,
                       n_shards=smk.params.n_shards, flush_every=smk.params.flush_every,
                       device=smk.config["device"], precision=smk.config["precision"], cache=smk.params.cache)
