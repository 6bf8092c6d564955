from udistil.common.logs import snakemake_job
from udistil.results.model_card import release

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    release(model_dir=smk.input.model, matrix_csv=smk.input.matrix, name=smk.wildcards.model,
            out_dir=smk.output.folder, metric_paths=list(smk.input.metrics), datasets=smk.params.datasets)
