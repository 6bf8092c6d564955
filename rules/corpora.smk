# Raw corpora (synthetic, local folder, Hugging Face dataset) to manifests of 16 kHz mono clips.


rule manifest:
    output:
        manifest=res("manifests/{corpus}/{split}.parquet"),
        rejected=res("manifests/{corpus}/{split}.rejected.tsv"),
        audio=directory(res("audio/{corpus}/{split}")),
    params:
        spec=lambda wc: CORPORA[wc.corpus],
        seed=config["seed"],
        max_seconds=lambda wc: plan.manifest_length_limit(config, wc.corpus, wc.split),
    log:
        logs("corpora/{corpus}/{split}.log"),
    benchmark:
        bench("corpora/{corpus}/{split}.tsv")
    threads: lambda wc: CORPORA[wc.corpus].get("workers", 1)
    resources:
        mem_mb=4000,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/manifest.py"


rule corpora:
    input:
        [manifest(p, POOL_SPLIT) for p in config["pools"]] + plan.eval_manifests(config, LAYOUT),
