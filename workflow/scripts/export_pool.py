from udistil.common.logs import snakemake_job
from udistil.results.datasets import write_pool_dataset

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk) as log:
    rows = write_pool_dataset(manifest=smk.input.manifest, labels=smk.input.labels, score_paths=list(smk.input.scores),
                              pool=smk.wildcards.pool, teacher=smk.params.teacher, language=smk.params.language,
                              out_dir=smk.output.folder)
    log.info("dataset of pool %s: %d clips in %s", smk.wildcards.pool, rows, smk.output.folder)
