# The filtered data as Hugging Face datasets (datasets.load_from_disk folders) for another training recipe: each
# pool pseudo-labelled with every score it computed, and each filter's subset of it.


rule export_pool:
    input:
        manifest=pool_manifest,
        labels=LAYOUT.pseudo_labels("{pool}"),
        scores=lambda wc: [LAYOUT.score(wc.pool, s) for s in grid.pool_scores(config, wc.pool)],
    output:
        folder=directory(LAYOUT.dataset("{pool}")),
    params:
        teacher=TEACHER,
        language=config["language"],
    log:
        logs("datasets/{pool}/all"),
    benchmark:
        bench("datasets/{pool}/all")
    resources:
        mem_mb=4000,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/export_pool.py"


rule export_subset:
    input:
        pool=LAYOUT.dataset("{pool}"),
        subset=LAYOUT.subset("{pool}", "{filter}"),
        stats=LAYOUT.subset("{pool}", "{filter}", "json"),
    output:
        folder=directory(LAYOUT.dataset("{pool}", "{filter}")),
    params:
        scores=lambda wc: grid.filter_scores(config, wc.filter),
        language=config["language"],
    log:
        logs("datasets/{pool}/{filter}"),
    benchmark:
        bench("datasets/{pool}/{filter}")
    resources:
        mem_mb=4000,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/export_subset.py"


rule datasets:
    input:
        targets.dataset_folders(config, LAYOUT),
