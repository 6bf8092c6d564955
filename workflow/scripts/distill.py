from udistil.distill import TrainConfig, distill
from udistil.logs import set_threads, snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    distill(teacher=smk.params.teacher, student_init=smk.input.init, subset=smk.input.subset,
            manifest=smk.input.manifest, cfg=TrainConfig.from_dict(dict(smk.params.training)),
            out_model=smk.output.model, out_curve=smk.output.curve, out_run=smk.output.run,
            checkpoint_dir=smk.params.checkpoints)
