# Shareable student folders: the model's files (hard links) with a model card that includes its evaluation.


rule release_model:
    input:
        model="results/students/{model}/model",
        matrix="results/tables/result_matrix.csv",
    output:
        folder=directory("results/release/{model}"),
    log:
        "logs/release/{model}.log",
    localrule: True
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/release_model.py"
