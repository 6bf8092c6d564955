from udistil.common.logs import snakemake_job
from udistil.labels.decoding import DecodeOptions
from udistil.results.efficiency import run_efficiency

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    run_efficiency(names=list(smk.params.names), locations=[smk.params.teacher, *smk.input.students],
                   manifest=smk.input.manifest, clips=smk.params.clips,
                   options=DecodeOptions.from_section(dict(smk.params.decoding)), threads=smk.threads,
                   device=smk.params.device, precision=smk.params.precision, out_csv=smk.output.csv,
                   out_md=smk.output.md)
