from udistil.common.hub import run_fetch
from udistil.common.logs import job_logging

smk = snakemake  # noqa: F821 - injected by Snakemake
with job_logging(smk.log[0], offline=False):  # downloads: the hub allowed here whatever the config's `offline`
    run_fetch(repos=list(smk.params.repos), out=smk.output.record, parts=list(smk.input.parts))
