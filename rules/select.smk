# Training subsets per filter, and how well each score detects bad pseudo-labels.


rule select_subset:
    input:
        unpack(select_inputs),
    output:
        subset=res("subsets/{pool}/{filter}.parquet"),
        stats=res("subsets/{pool}/{filter}.json"),
    params:
        rule=lambda wc: plan.selection_rule(config, wc.filter),
        scores=lambda wc: plan.filter_scores(config, wc.filter),
        normalizer=config["normalizer"],
    log:
        logs("select/{pool}/{filter}.log"),
    priority: 7
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/select_subset.py"


rule filter_analysis:
    input:
        truth=expand(res("scores/{pool}/wer.parquet"), pool=LABELLED_POOLS),
        scores=plan.analysed_scores(config, LAYOUT),
    output:
        csv=report(res("tables/filter_auc.csv"), caption="../report/filter_auc.rst", category="Filters"),
        md=res("tables/filter_auc.md"),
        roc=report(res("plots/filter_roc.png"), caption="../report/filter_roc.rst", category="Filters"),
    params:
        pools=LABELLED_POOLS,
        scores=LABEL_FREE_USED,
        stand_ins=STAND_INS,
        resamples=config["uncertainty"]["resamples"],
        confidence=config["uncertainty"]["confidence"],
        seed=config["seed"],
    log:
        logs("select/filter_analysis.log"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/filter_analysis.py"


rule pool_conditions:
    input:
        labels=res("pseudo_labels/{pool}.parquet"),
        manifest=pool_manifest,
    output:
        csv=report(
            res("tables/pool_conditions_{pool}.csv"), caption="../report/pool_conditions.rst", category="Filters"
        ),
        md=res("tables/pool_conditions_{pool}.md"),
    params:
        normalizer=config["normalizer"],
        threshold=SELECTION["supervised_threshold"],
    log:
        logs("select/pool_conditions_{pool}.log"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/pool_conditions.py"


rule subsets:
    input:
        plan.subset_stats_files(config, LAYOUT),
