# Label-free scores of each pool's pseudo-labels (one rule per score), plus the supervised WER baseline.
# Priorities follow the critical path on a few cores: teacher shards 10, proxy shards 9, scores 8, subsets 7,
# students 5; evaluations of the teacher and zero-shot models fill the gaps.


# The proxy model transcribes each pool the way the teacher pseudo-labels it (rules/pseudo_label.smk): the same
# shards, flushes and resources, plain transcripts instead of token statistics.
use rule pseudo_label_shard as transcribe_pool_shard with:
    input:
        manifest=pool_manifest,
        model=lambda wc: model_input(wc.model),
    output:
        shard=temp(LAYOUT.transcript_shard("{pool}", "{model}", "{shard}")),
    params:
        model=model_param(lambda wc: wc.model),
        decoding=DECODING,
        statistics=False,
    log:
        logs("transcripts/{pool}/{model}/shard{shard}"),
    benchmark:
        bench("transcripts/{pool}/{model}/shard{shard}")
    priority: 9  # after the teacher's shards, which every score waits for


use rule gather_pseudo_labels as gather_transcripts with:
    input:
        manifest=pool_manifest,
        shards=lambda wc: [LAYOUT.transcript_shard(wc.pool, wc.model, s) for s in range(N_SHARDS)],
    output:
        transcripts=LAYOUT.transcripts("{pool}", "{model}"),
    log:
        logs("transcripts/{pool}/{model}/gather"),
    priority: 8


rule score_proxy:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
        transcripts=lambda wc: proxy_transcripts(wc.pool),
    output:
        score=LAYOUT.score("{pool}", "proxy"),
    params:
        normalizer=config["normalizer"],
    log:
        logs("scores/{pool}/proxy"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_proxy.py"


rule score_teacher_stat:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
    output:
        score=LAYOUT.score("{pool}", "{stat}"),
    wildcard_constraints:
        stat=_alternatives(teacher_stats()),
    log:
        logs("scores/{pool}/{stat}"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_teacher_stat.py"


rule score_nnll:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
        model=lambda wc: model_input(SCORE_CFG["nnll"]["model"]),
    output:
        score=LAYOUT.score("{pool}", "nnll"),
    params:
        cfg=lambda wc: SCORE_CFG["nnll"],
        model=model_param(lambda wc: SCORE_CFG["nnll"]["model"]),
        device=config["device"],
    log:
        logs("scores/{pool}/nnll"),
    benchmark:
        bench("scores/{pool}/nnll")
    threads: 1
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_nnll.py"


rule score_sonar:
    input:
        unpack(sonar_inputs),
    output:
        score=LAYOUT.score("{pool}", "sonar"),
    params:
        cfg=lambda wc: SCORE_CFG["sonar"],
        model=model_param(lambda wc: SCORE_CFG["sonar"]["model"] if SONAR_STAND_IN else None),
        device=config["device"],
    log:
        logs("scores/{pool}/sonar"),
    benchmark:
        bench("scores/{pool}/sonar")
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPU,
    priority: 8
    conda:
        f"../envs/{settings.sonar_environment(config)}.yaml"  # SONAR's own only where its encoders run
    script:
        "../workflow/scripts/score_sonar.py"


rule score_pesq:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
        manifest=pool_manifest,
    output:
        score=LAYOUT.score("{pool}", "pesq"),
    params:
        cfg=lambda wc: SCORE_CFG["pesq"],
    log:
        logs("scores/{pool}/pesq"),
    benchmark:
        bench("scores/{pool}/pesq")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_pesq.py"


rule score_wer:
    input:
        labels=LAYOUT.pseudo_labels("{pool}"),
        manifest=pool_manifest,
    output:
        score=LAYOUT.score("{pool}", "wer"),
    params:
        normalizer=settings.supervised_normalizer(config),
    log:
        logs("scores/{pool}/wer"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_wer.py"


rule scores:
    input:
        targets.score_files(config, LAYOUT),
