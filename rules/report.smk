# The paper's result matrix, the paper beside the run, efficiency, plots; captions for `snakemake --report`.


rule result_matrix:
    input:
        metrics=EVAL_METRICS,
        tables=targets.eval_files(config, LAYOUT, "parquet"),
    output:
        csv=report(LAYOUT.table("result_matrix.csv"), caption="../report/result_matrix.rst", category="Tables"),
        md=LAYOUT.table("result_matrix.md"),
        tex=LAYOUT.table("result_matrix.tex"),
        comparisons=report(
            LAYOUT.table("comparisons.csv"), caption="../report/comparisons.rst", category="Tables"
        ),
        comparisons_md=LAYOUT.table("comparisons.md"),
        seeds=report(
            LAYOUT.table("result_matrix_seeds.csv"), caption="../report/result_matrix_seeds.rst", category="Tables"
        ),
        spread=report(LAYOUT.table("seed_spread.csv"), caption="../report/seed_spread.rst", category="Tables"),
        errors=LAYOUT.table("utterance_errors.parquet"),
    params:
        rows=MATRIX_ROWS,
        sets=EVAL["sets"],
        benchmark=grid.benchmark_sets(config),
        splits=EVAL["splits"],
        stand_ins=STAND_INS,
        resample=EVAL["resample"],
        resamples=config["uncertainty"]["resamples"],
        confidence=config["uncertainty"]["confidence"],
        seed=config["seed"],
        description=config["description"],
    log:
        logs("report/result_matrix"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/result_matrix.py"


rule efficiency:
    input:
        model=model_input(TEACHER),
        students=[LAYOUT.student(s, "model") for s in grid.efficiency_students(config)],
        manifest=manifest(EVAL["sets"][0], EVAL["splits"][0]),
    output:
        csv=report(LAYOUT.table("efficiency.csv"), caption="../report/efficiency.rst", category="Tables"),
        md=LAYOUT.table("efficiency.md"),
    params:
        teacher=model_param(lambda wc: TEACHER),
        names=[TEACHER] + grid.efficiency_students(config),
        decoding=DECODING,
        device=config["device"],
        precision=config["precision"],
        clips=config["efficiency"]["clips"],
    log:
        logs("report/efficiency"),
    benchmark:
        bench("report/efficiency")
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
        matrix=LAYOUT.table("result_matrix.csv"),
        tables=targets.eval_files(config, LAYOUT, "parquet"),
        table1=PAPER_TABLE1,
    output:
        claims=report(LAYOUT.table("paper_claims.md"), caption="../report/paper_claims.rst", category="Tables"),
        side_by_side=report(
            LAYOUT.table("paper_vs_run.csv"), caption="../report/paper_vs_run.rst", category="Tables"
        ),
    params:
        paper=config["paper"],
        benchmark=grid.benchmark_sets(config),
        splits=EVAL["splits"],
        resamples=config["uncertainty"]["resamples"],
        seed=config["seed"],
        cells=rows.row_cells(rows.config_matrix_rows(config)),
        resample=EVAL["resample"],
        confidence=config["uncertainty"]["confidence"],
        description=config["description"],
    log:
        logs("report/paper_comparison"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/paper_comparison.py"


rule category_tables:
    input:
        metrics=targets.eval_files(config, LAYOUT, "json", sets=CATEGORY_SETS),
        table3=PAPER_TABLE3,
    output:
        csv=report(
            LAYOUT.table("wer_by_category.csv"), caption="../report/wer_by_category.rst", category="Tables"
        ),
        side_by_side=report(
            LAYOUT.table("paper_vs_run_table3.csv"),
            caption="../report/paper_vs_run_table3.rst",
            category="Tables",
        ),
    params:
        rows=SEED_ROWS,
        paper=config["paper"],
        category_set=CATEGORY_SETS[0] if CATEGORY_SETS else None,
    log:
        logs("report/category_tables"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/category_tables.py"


rule plots:
    input:
        matrix=LAYOUT.table("result_matrix.csv"),
        efficiency=LAYOUT.table("efficiency.csv"),
        truth=[LAYOUT.score(p, "wer") for p in LABELLED_POOLS[:1]],
        scores=[LAYOUT.score(p, s) for p in LABELLED_POOLS[:1] for s in LABEL_FREE_USED],
        metrics=EVAL_METRICS,
    output:
        by_filter=report(LAYOUT.plot("wer_by_filter.png"), caption="../report/wer_by_filter.rst", category="Plots"),
        score_vs_wer=report(
            LAYOUT.plot("score_vs_wer.png"), caption="../report/score_vs_wer.rst", category="Plots"
        ),
        speed=report(LAYOUT.plot("wer_vs_speed.png"), caption="../report/wer_vs_speed.rst", category="Plots"),
    params:
        sets=EVAL["sets"],
        stand_ins=STAND_INS,
    log:
        logs("report/plots"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/plots.py"


rule learning_curves:
    input:
        curves=[LAYOUT.student(s, "validation.csv") for s in STUDENT_NAMES],
    output:
        csv=report(
            LAYOUT.table("learning_curves.csv"), caption="../report/learning_curves.rst", category="Tables"
        ),
        png=report(LAYOUT.plot("learning_curves.png"), caption="../report/learning_curves.rst", category="Plots"),
    params:
        students=STUDENT_NAMES,
    log:
        logs("report/learning_curves"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/learning_curves.py"


rule tables:
    input:
        LAYOUT.table("result_matrix.csv"),
        LAYOUT.table("efficiency.csv"),
        LAYOUT.table("paper_claims.md"),


rule html_report:
    input:
        REPORTED,
        config=LAYOUT.config(),
    output:
        html=LAYOUT.report(),
    params:
        python=sys.executable,
        snakefile=workflow.main_snakefile,
    log:
        logs("report/html_report"),
    localrule: True
    conda:
        "../envs/udistil.yaml"
    shell:
        # the same report as `snakemake --report results/<run>/report.html --configfile results/<run>/config.yaml`
        # (the run's filled config), built as the last job of the run
        "{params.python} -m snakemake -s {params.snakefile} --nolock --report {output.html}"
        " --configfile {input.config} > {log} 2>&1"


# The report's description (report/workflow.rst) says what the run could not compute. Snakemake renders it with the
# config alone, so the lines travel there; set after every rule above took its params from the config, so no job
# and no written config.yaml sees the key.
config["_not_computed"] = NOT_COMPUTED
