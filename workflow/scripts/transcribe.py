from udistil.decoding import DecodeOptions
from udistil.logs import set_threads, snakemake_job
from udistil.pseudo_label import transcribe_manifest

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    transcribe_manifest(manifest_path=smk.input.manifest, model=smk.params.model,
                        options=DecodeOptions.from_section(dict(smk.params.decoding)),
                        output=smk.output.transcripts, device=smk.params.device, precision=smk.params.precision,
                        cache=dict(smk.params.cache))
