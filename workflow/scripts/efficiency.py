from udistil.decoding import DecodeOptions
from udistil.efficiency import run_efficiency
from udistil.logs import snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    options = DecodeOptions.from_config(smk.config, dict(smk.params.decoding))
    run_efficiency(list(smk.params.names), [smk.params.teacher, *smk.input.students], smk.input.manifest,
                   smk.params.clips, options, smk.output.csv, smk.output.md)
