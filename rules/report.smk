# The paper's result matrix, the paper beside the run, efficiency, plots; captions for `snakemake --report`.


rule result_matrix:
    input:
        metrics=eval_metrics(),
        tables=eval_tables(),
    output:
        csv=report("results/tables/result_matrix.csv", caption="../report/result_matrix.rst", category="Tables"),
        md="results/tables/result_matrix.md",
        tex="results/tables/result_matrix.tex",
        comparisons=report(
            "results/tables/comparisons.csv", caption="../report/comparisons.rst", category="Tables"
        ),
        comparisons_md="results/tables/comparisons.md",
    params:
        rows=lambda wc: matrix_rows_param(),
        sets=EVAL["sets"],
        benchmark=BENCHMARK,
        splits=EVAL["splits"],
        stand_ins=STAND_INS,
        resamples=config["uncertainty"]["resamples"],
        confidence=config["uncertainty"]["confidence"],
        seed=config["seed"],
        description=config["description"],
    log:
        "logs/report/result_matrix.log",
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/result_matrix.py"


rule efficiency:
    input:
        model=model_input(TEACHER),
        students=[f"results/students/{s}/model" for s in efficiency_students()],
        manifest=manifest(EVAL["sets"][0], EVAL["splits"][0]),
    output:
        csv=report("results/tables/efficiency.csv", caption="../report/efficiency.rst", category="Tables"),
        md="results/tables/efficiency.md",
    params:
        teacher=model_param(lambda wc: TEACHER),
        names=[TEACHER] + efficiency_students(),
        decoding=DECODING,
        device=config["device"],
        precision=config["precision"],
        clips=config["efficiency"]["clips"],
    log:
        "logs/report/efficiency.log",
    benchmark:
        "results/benchmarks/report/efficiency.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/efficiency.py"


rule paper_comparison:
    input:
        matrix="results/tables/result_matrix.csv",
        tables=eval_tables(),
        table1=PAPER_TABLE1,
    output:
        claims=report("results/tables/paper_claims.md", caption="../report/paper_claims.rst", category="Tables"),
        side_by_side=report(
            "results/tables/paper_vs_run.csv", caption="../report/paper_vs_run.rst", category="Tables"
        ),
    params:
        paper=config["paper"],
        benchmark=BENCHMARK,
        splits=EVAL["splits"],
        resamples=config["uncertainty"]["resamples"],
        seed=config["seed"],
        confidence=config["uncertainty"]["confidence"],
        description=config["description"],
    log:
        "logs/report/paper_comparison.log",
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/paper_comparison.py"


rule category_tables:
    input:
        metrics=category_metrics(),
        table3=PAPER_TABLE3,
    output:
        csv=report(
            "results/tables/wer_by_category.csv", caption="../report/wer_by_category.rst", category="Tables"
        ),
        side_by_side=report(
            "results/tables/paper_vs_run_table3.csv",
            caption="../report/paper_vs_run_table3.rst",
            category="Tables",
        ),
    params:
        rows=lambda wc: matrix_rows_param(),
        paper=config["paper"],
        category_set=CATEGORY_SETS[0] if CATEGORY_SETS else None,
    log:
        "logs/report/category_tables.log",
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/category_tables.py"


rule plots:
    input:
        matrix="results/tables/result_matrix.csv",
        efficiency="results/tables/efficiency.csv",
        truth=expand("results/scores/{pool}/wer.parquet", pool=LABELLED_POOLS[:1]),
        scores=expand("results/scores/{pool}/{score}.parquet", pool=LABELLED_POOLS[:1], score=LABEL_FREE_USED),
        metrics=eval_metrics(),
    output:
        by_filter=report("results/plots/wer_by_filter.png", caption="../report/wer_by_filter.rst", category="Plots"),
        score_vs_wer=report(
            "results/plots/score_vs_wer.png", caption="../report/score_vs_wer.rst", category="Plots"
        ),
        speed=report("results/plots/wer_vs_speed.png", caption="../report/wer_vs_speed.rst", category="Plots"),
    params:
        sets=EVAL["sets"],
        stand_ins=STAND_INS,
    log:
        "logs/report/plots.log",
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/plots.py"


rule learning_curves:
    input:
        curves=[f"results/students/{s}/validation.csv" for s in student_names()],
    output:
        csv=report(
            "results/tables/learning_curves.csv", caption="../report/learning_curves.rst", category="Tables"
        ),
        png=report("results/plots/learning_curves.png", caption="../report/learning_curves.rst", category="Plots"),
    params:
        students=student_names(),
    log:
        "logs/report/learning_curves.log",
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/learning_curves.py"


rule tables:
    input:
        "results/tables/result_matrix.csv",
        "results/tables/efficiency.csv",
        "results/tables/paper_claims.md",


rule html_report:
    input:
        REPORTED,
    output:
        html="results/report.html",
    params:
        python=sys.executable,
        snakefile=workflow.main_snakefile,
        configfiles=[str(Path(p).resolve()) for p in workflow.overwrite_configfiles],
    log:
        "logs/report/html_report.log",
    localrule: True
    conda:
        "../envs/udistil.yaml"
    shell:
        # the same report as `snakemake --report results/report.html`, built as the last job of the run
        "{params.python} -m snakemake -s {params.snakefile} --nolock --report {output.html}"
        " $(for f in {params.configfiles:q}; do printf -- '--configfile %s ' \"$f\"; done) > {log} 2>&1"
