# The teacher transcribes each pool in shards (pseudo-labels + token statistics), gathered per pool.
# The proxy model's transcripts use the same two steps (rules/scores.smk). The shards are temp(): the gathered file
# is all that later jobs read, so Snakemake removes them once it is written.


rule pseudo_label_shard:
    input:
        manifest=pool_manifest,
        model=model_input(TEACHER),
    output:
        shard=temp(LAYOUT.pseudo_label_shard("{pool}", "{shard}")),
    params:
        model=model_param(lambda wc: TEACHER),
        decoding={**DECODING, "return_timestamps": config["pseudo_label"]["return_timestamps"]},
        statistics=True,
        device=config["device"],
        precision=config["precision"],
        cache=config["encoder_cache"],
        shard=lambda wc: int(wc.shard),
        n_shards=N_SHARDS,
        flush_every=config["pseudo_label"]["flush_every"],
    log:
        logs("pseudo_label/{pool}/shard{shard}"),
    benchmark:
        bench("pseudo_label/{pool}/shard{shard}")
    threads: 1
    priority: 10  # first: every score waits for the pseudo-labels
    resources:
        mem_mb=6000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/transcribe_shard.py"


rule gather_pseudo_labels:
    input:
        manifest=pool_manifest,
        shards=lambda wc: [LAYOUT.pseudo_label_shard(wc.pool, s) for s in range(N_SHARDS)],
    output:
        transcripts=LAYOUT.pseudo_labels("{pool}"),
    log:
        logs("pseudo_label/{pool}/gather"),
    priority: 10
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/gather_shards.py"


rule pseudo_labels:
    input:
        [LAYOUT.pseudo_labels(p) for p in config["pools"]],
