from udistil.common.logs import snakemake_job
from udistil.results.datasets import write_subset_dataset

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk) as log:
    rows = write_subset_dataset(pool_dir=smk.input.pool, subset=smk.input.subset, stats=smk.input.stats,
                                pool=smk.wildcards.pool, filter_name=smk.wildcards.filter, scores=smk.params.scores,
                                language=smk.params.language, out_dir=smk.output.folder)
    log.info("dataset of pool %s filter %s: %d clips in %s", smk.wildcards.pool, smk.wildcards.filter, rows,
             smk.output.folder)
