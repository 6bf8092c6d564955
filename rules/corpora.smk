# Raw corpora (synthetic, local folder, Hugging Face dataset) to manifests of 16 kHz mono clips.


rule manifest:
    output:
        manifest=manifest("{corpus}", "{split}"),
        rejected=LAYOUT.rejected("{corpus}", "{split}"),
        audio=directory(LAYOUT.audio("{corpus}", "{split}")),
    params:
        spec=lambda wc: CORPORA[wc.corpus],
        seed=config["seed"],
        max_seconds=lambda wc: settings.manifest_length_limit(config, wc.corpus, wc.split),
        split_long=lambda wc: settings.manifest_split_long(config, wc.corpus, wc.split),
    log:
        logs("corpora/{corpus}/{split}"),
    benchmark:
        bench("corpora/{corpus}/{split}")
    threads: lambda wc: CORPORA[wc.corpus].get("workers", 1)
    resources:
        mem_mb=4000,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/manifest.py"


rule corpora:
    input:
        targets.pool_manifests(config, LAYOUT) + targets.eval_manifests(config, LAYOUT),
