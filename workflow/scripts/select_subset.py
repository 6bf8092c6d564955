from udistil.logs import snakemake_job
from udistil.selection import run_select

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk) as log:
    stats = run_select(smk.input.labels, smk.input.manifest, list(smk.input.scores), smk.params.rule,
                       smk.wildcards.filter, smk.params.normalizer, smk.output.subset, smk.output.stats,
                       supervised_stats=smk.input.get("supervised"))
    log.info("subset %s: %s", smk.wildcards.filter, stats)
