# Students: initialised from teacher layers, distilled on each filter's subset of each pool.


# The initialised student is kept (not temp()): a student added to a finished run would rebuild it, and Snakemake
# would then retrain that architecture's finished students too (their input "updated by another job").
rule init_student:
    input:
        model=model_input(TEACHER),
    output:
        model=directory(LAYOUT.student_init("{arch}")),
    params:
        teacher=model_param(lambda wc: TEACHER),
        maps=lambda wc: grid.layer_map(config, wc.arch),
    log:
        logs("students/init-{arch}"),
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/init_student.py"


# students.training.num_processes > 1: the job runs that many processes under torchrun (udistil.distill.launch),
# one GPU each when the device is cuda, and asks for as many GPUs (and threads).
DISTILL_PROCESSES = STUDENTS["training"]["num_processes"]


rule distill:
    input:
        init=LAYOUT.student_init("{arch}"),
        model=model_input(TEACHER),
        subset=LAYOUT.subset("{pool}", "{filter}"),
        manifest=pool_manifest,
        **targets.validation_input(config, LAYOUT),
    output:
        model=directory(LAYOUT.student(STUDENT, "model")),
        curve=LAYOUT.student(STUDENT, "loss.csv"),
        run=LAYOUT.student(STUDENT, "run.json"),
        validation=LAYOUT.student(STUDENT, "validation.csv"),
    params:
        teacher=model_param(lambda wc: TEACHER),
        training=lambda wc: settings.training(config, int(wc.seed)),
        validation=settings.validation(config),
        checkpoints=lambda wc, output: str(Path(output.run).parent / "checkpoints"),
    log:
        logs(f"students/{STUDENT}"),
    benchmark:
        bench(f"students/{STUDENT}")
    threads: DISTILL_PROCESSES
    priority: 5
    resources:
        mem_mb=12000,
        runtime=1440,
        gpu=GPU * DISTILL_PROCESSES,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/distill.py"


rule students:
    input:
        [LAYOUT.student(s, "run.json") for s in STUDENT_NAMES],
