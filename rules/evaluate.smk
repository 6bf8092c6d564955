# Every model (teacher, zero-shot comparisons, students) on every evaluation set and split.


rule evaluate:
    input:
        manifest=lambda wc: manifest(wc.corpus, wc.split),
        model=lambda wc: model_input(wc.model),
    output:
        table="results/eval/{model}/{corpus}/{split}.parquet",
        metrics="results/eval/{model}/{corpus}/{split}.json",
    params:
        model=model_param(lambda wc: wc.model),
        normalizer=config["normalizer"],
        decoding=config["decoding"],
        cache=config.get("encoder_cache"),
    log:
        "logs/evaluate/{model}/{corpus}/{split}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}/{corpus}/{split}.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/evaluate.py"


rule evaluation:
    input:
        eval_metrics(),
