# Training subsets per filter, and how well each score detects bad pseudo-labels.


rule select_subset:
    input:
        unpack(select_inputs),
    output:
        subset=LAYOUT.subset("{pool}", "{filter}"),
        stats=LAYOUT.subset("{pool}", "{filter}", "json"),
    params:
        rule=lambda wc: settings.selection_rule(config, wc.filter),
        scores=lambda wc: grid.filter_scores(config, wc.filter),
        normalizer=config["normalizer"],
    log:
        logs("select/{pool}/{filter}"),
    priority: 7
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/select_subset.py"


rule filter_analysis:
    input:
        truth=[LAYOUT.score(p, "wer") for p in LABELLED_POOLS],
        scores=targets.analysed_scores(config, LAYOUT),
    output:
        csv=report(LAYOUT.table("filter_auc.csv"), caption="../report/filter_auc.rst", category="Filters"),
        md=LAYOUT.table("filter_auc.md"),
        roc=report(LAYOUT.plot("filter_roc.png"), caption="../report/filter_roc.rst", category="Filters"),
    params:
        pools=LABELLED_POOLS,
        scores=LABEL_FREE_USED,
        stand_ins=STAND_INS,
        resamples=config["uncertainty"]["resamples"],
        confidence=config["uncertainty"]["confidence"],
        seed=config["seed"],
    log:
        logs("select/filter_analysis"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/filter_analysis.py"


rule pool_conditions:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
        manifest=pool_manifest,
    output:
        csv=report(
            LAYOUT.table("pool_conditions_{pool}.csv"), caption="../report/pool_conditions.rst", category="Filters"
        ),
        md=LAYOUT.table("pool_conditions_{pool}.md"),
    params:
        normalizer=config["normalizer"],
        threshold=SELECTION["supervised_threshold"],
    log:
        logs("select/pool_conditions_{pool}"),
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/pool_conditions.py"


rule subsets:
    input:
        targets.subset_stats_files(config, LAYOUT),
