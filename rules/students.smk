# Students: initialised from teacher layers, distilled on each filter's subset of each pool.


rule init_student:
    input:
        model=model_input(TEACHER),
    output:
        model=directory("results/students/init-{arch}"),
    params:
        teacher=model_param(lambda wc: TEACHER),
        maps=lambda wc: layer_map(wc.arch),
    log:
        "logs/students/init-{arch}.log",
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
        init="results/students/init-{arch}",
        model=model_input(TEACHER),
        subset="results/subsets/{pool}/{filter}.parquet",
        manifest=lambda wc: manifest(wc.pool, POOL_SPLIT),
        **validation_input(),
    output:
        model=directory("results/students/student-{arch}-{pool}-{filter}/model"),
        curve="results/students/student-{arch}-{pool}-{filter}/loss.csv",
        run="results/students/student-{arch}-{pool}-{filter}/run.json",
        validation="results/students/student-{arch}-{pool}-{filter}/validation.csv",
    params:
        teacher=model_param(lambda wc: TEACHER),
        training=lambda wc: {**training_config(), "deterministic": config["deterministic"]},
        validation=validation_settings(),
        checkpoints=lambda wc, output: str(Path(output.run).parent / "checkpoints"),
    log:
        "logs/students/student-{arch}-{pool}-{filter}.log",
    benchmark:
        "results/benchmarks/students/student-{arch}-{pool}-{filter}.tsv"
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
        [f"results/students/{s}/run.json" for s in student_names()],
