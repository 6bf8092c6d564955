# Pretrained weights: packaged CTranslate2 Whisper converted to transformers folders, tiny random models.


rule convert_model:
    output:
        model=directory(LAYOUT.model_dir("{model}")),
    params:
        spec=lambda wc: grid.model_spec(config, wc.model),  # keys sorted: one spec, one model folder
        version=MATERIALISE_VERSION,  # a changed builder rebuilds the folder (Snakemake's params trigger)
    log:
        logs("assets/{model}"),
    benchmark:
        bench("assets/{model}")
    priority: 20  # first: pseudo-labelling waits for the teacher, and its shards should start together
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/convert_model.py"


rule assets:
    input:
        [LAYOUT.model_dir(m) for m in grid.materialised_models(config)],
