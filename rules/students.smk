# Students: initialised from teacher layers, distilled on each filter's subset of each pool.


rule init_student:
    input:
        model=model_input(TEACHER),
    output:
        model=directory(res("students/init-{arch}")),
    params:
        teacher=model_param(lambda wc: TEACHER),
        maps=lambda wc: plan.layer_map(config, wc.arch),
    log:
        logs("students/init-{arch}.log"),
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
        init=res("students/init-{arch}"),
        model=model_input(TEACHER),
        subset=res("subsets/{pool}/{filter}.parquet"),
        manifest=pool_manifest,
        **plan.validation_input(config, LAYOUT),
    output:
        model=directory(res("students/student-{arch}-{pool}-{filter}-s{seed}/model")),
        curve=res("students/student-{arch}-{pool}-{filter}-s{seed}/loss.csv"),
        run=res("students/student-{arch}-{pool}-{filter}-s{seed}/run.json"),
        validation=res("students/student-{arch}-{pool}-{filter}-s{seed}/validation.csv"),
    params:
        teacher=model_param(lambda wc: TEACHER),
        training=lambda wc: plan.training_config(config, int(wc.seed)),
        validation=plan.validation_settings(config),
        checkpoints=lambda wc, output: str(Path(output.run).parent / "checkpoints"),
    log:
        logs("students/student-{arch}-{pool}-{filter}-s{seed}.log"),
    benchmark:
        bench("students/student-{arch}-{pool}-{filter}-s{seed}.tsv")
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
