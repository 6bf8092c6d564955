# Every model (teacher, zero-shot comparisons, students) on every evaluation set and split: one job per model,
# so the model is loaded once (not once per set); outputs stay one table and one metrics file per set and split.


rule evaluate:
    input:
        manifests=targets.eval_manifests(config, LAYOUT),
        model=lambda wc: model_input(wc.model),
    output:
        tables=eval_outputs("parquet"),
        metrics=eval_outputs("json"),
    params:
        model=model_param(lambda wc: wc.model),
        sets=grid.eval_pairs(config),
        normalizer=config["normalizer"],
        decoding=EVAL_DECODING,
        long_clips=EVAL["decoding"]["long_clips"],
        categories=EVAL["categories"],
        device=config["device"],
        precision=EVAL["decoding"]["precision"] or config["precision"],
        cache=config["encoder_cache"],
    log:
        logs("evaluate/{model}"),
    benchmark:
        bench("evaluate/{model}")
    threads: 1
    resources:
        mem_mb=6000,
        runtime=480,
        gpu=GPU,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/evaluate.py"


rule evaluation:
    input:
        EVAL_METRICS,
