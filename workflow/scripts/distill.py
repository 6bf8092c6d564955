from udistil.distill import TrainConfig, distill
from udistil.logs import set_threads, snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    distill(smk.params.teacher, smk.input.init, smk.input.subset, smk.input.manifest,
            TrainConfig.from_dict(dict(smk.params.training)), smk.output.model, smk.output.curve, smk.output.run,
            smk.params.checkpoints)
