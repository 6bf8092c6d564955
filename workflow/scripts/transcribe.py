from udistil.decoding import DecodeOptions
from udistil.logs import set_threads, snakemake_job
from udistil.pseudo_label import transcribe_manifest

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    options = DecodeOptions.from_config(smk.config, dict(smk.params.decoding))
    transcribe_manifest(smk.input.manifest, smk.params.model, options, smk.output.transcripts,
                        device=smk.config["device"], precision=smk.config["precision"], cache=smk.params.cache)
