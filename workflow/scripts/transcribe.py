from udistil.decoding import DecodeOptions
from udistil.logs import set_threads, snakemake_job
from udistil.pseudo_label import transcribe_manifest

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    transcribe_manifest(smk.input.manifest, smk.params.model, DecodeOptions.from_config(smk.config),
                        smk.output.transcripts, device=smk.config["device"], precision=smk.config["precision"])
