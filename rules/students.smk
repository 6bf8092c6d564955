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
        training=lambda wc: training_config(),
        validation=validation_settings(),
        checkpoints=lambda wc, output: str(Path(output.run).parent / "checkpoints"),
    log:
        "logs/students/student-{arch}-{pool}-{filter}.log",
    benchmark:
        "results/benchmarks/students/student-{arch}-{pool}-{filter}.tsv"
    threads: 1
    priority: 5
    resources:
        mem_mb=12000,
        runtime=1440,
        gpu=GPU,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/distill.py"


rule students:
    input:
        [f"results/students/{s}/run.json" for s in student_names()],
