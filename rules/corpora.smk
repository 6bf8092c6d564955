# Raw corpora (synthetic, local folder, Hugging Face dataset) to manifests of 16 kHz mono clips.


rule manifest:
    output:
        manifest="results/manifests/{corpus}/{split}.parquet",
        rejected="results/manifests/{corpus}/{split}.rejected.tsv",
        audio=directory("results/audio/{corpus}/{split}"),
    params:
        spec=lambda wc: CORPORA[wc.corpus],
        seed=config["seed"],
        max_seconds=lambda wc: manifest_length_limit(wc.corpus, wc.split),
    log:
        "logs/corpora/{corpus}/{split}.log",
    benchmark:
        "results/benchmarks/corpora/{corpus}/{split}.tsv"
    threads: lambda wc: CORPORA[wc.corpus].get("workers", 1)
    resources:
        mem_mb=4000,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/manifest.py"


rule corpora:
    input:
        pool_manifests() + eval_manifests(),
