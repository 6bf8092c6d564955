from udistil.common.logs import snakemake_job
from udistil.distill import TrainConfig, ValidationConfig
from udistil.distill.launch import distill_processes

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    distill_processes(threads=smk.threads, teacher=smk.params.teacher, student_init=smk.input.init,
                      subset=smk.input.subset, manifest=smk.input.manifest,
                      cfg=TrainConfig.from_dict(dict(smk.params.training)), out_model=smk.output.model,
                      out_curve=smk.output.curve, out_run=smk.output.run, out_validation=smk.output.validation,
                      checkpoint_dir=smk.params.checkpoints,
                      validation=ValidationConfig(**smk.params.validation) if smk.params.validation else None,
                      validation_manifest=smk.input.get("validation"))
