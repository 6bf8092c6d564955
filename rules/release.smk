# Shareable student folders: the model's files (hard links) with a model card that includes its evaluation.


rule release_model:
    input:
        model=LAYOUT.student("{model}", "model"),
        matrix=LAYOUT.table("result_matrix_seeds.csv"),  # one row per trained student (the matrix has cells)
        metrics=eval_outputs("json"),  # every set and split: the card's model-index
    output:
        folder=directory(LAYOUT.release("{model}")),
    params:
        datasets=settings.hub_datasets(config),
    log:
        logs("release/{model}"),
    localrule: True
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/release_model.py"
