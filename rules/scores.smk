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
        shard=res("transcripts/{pool}/{model}/shard{shard}.parquet"),
    params:
        model=model_param(lambda wc: wc.model),
        decoding=DECODING,
        statistics=False,
    log:
        logs("transcripts/{pool}/{model}/shard{shard}.log"),
    benchmark:
        bench("transcripts/{pool}/{model}/shard{shard}.tsv")
    priority: 9  # after the teacher's shards, which every score waits for


use rule gather_pseudo_labels as gather_transcripts with:
    input:
        manifest=pool_manifest,
        shards=expand(res("transcripts/{{pool}}/{{model}}/shard{shard}.parquet"), shard=range(N_SHARDS)),
    output:
        transcripts=res("transcripts/{pool}/{model}.parquet"),
    log:
        logs("transcripts/{pool}/{model}/gather.log"),
    priority: 8


rule score_proxy:
    input:
        labels=res("pseudo_labels/{pool}.parquet"),
        transcripts=lambda wc: proxy_transcripts(wc.pool),
    output:
        score=res("scores/{pool}/proxy.parquet"),
    params:
        normalizer=config["normalizer"],
    log:
        logs("scores/{pool}/proxy.log"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_proxy.py"


rule score_teacher_stat:
    input:
        labels=res("pseudo_labels/{pool}.parquet"),
    output:
        score=res("scores/{pool}/{stat}.parquet"),
    wildcard_constraints:
        stat=_alternatives(TEACHER_STATS),
    log:
        logs("scores/{pool}/{stat}.log"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_teacher_stat.py"


rule score_nnll:
    input:
        labels=res("pseudo_labels/{pool}.parquet"),
        model=lambda wc: model_input(SCORE_CFG["nnll"]["model"]),
    output:
        score=res("scores/{pool}/nnll.parquet"),
    params:
        cfg=lambda wc: SCORE_CFG["nnll"],
        model=model_param(lambda wc: SCORE_CFG["nnll"]["model"]),
        device=config["device"],
    log:
        logs("scores/{pool}/nnll.log"),
    benchmark:
        bench("scores/{pool}/nnll.tsv")
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
        score=res("scores/{pool}/sonar.parquet"),
    params:
        cfg=lambda wc: SCORE_CFG["sonar"],
        model=model_param(lambda wc: SCORE_CFG["sonar"]["model"] if SONAR_STAND_IN else None),
        device=config["device"],
    log:
        logs("scores/{pool}/sonar.log"),
    benchmark:
        bench("scores/{pool}/sonar.tsv")
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPU,
    priority: 8
    conda:
        "../envs/sonar.yaml"
    script:
        "../workflow/scripts/score_sonar.py"


rule score_pesq:
    input:
        labels=res("pseudo_labels/{pool}.parquet"),
        manifest=pool_manifest,
    output:
        score=res("scores/{pool}/pesq.parquet"),
    params:
        cfg=lambda wc: SCORE_CFG["pesq"],
    log:
        logs("scores/{pool}/pesq.log"),
    benchmark:
        bench("scores/{pool}/pesq.tsv")
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
        labels=res("pseudo_labels/{pool}.parquet"),
        manifest=pool_manifest,
    output:
        score=res("scores/{pool}/wer.parquet"),
    params:
        normalizer=plan.supervised_normalizer(config),
    log:
        logs("scores/{pool}/wer.log"),
    priority: 8
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/score_wer.py"


rule scores:
    input:
        plan.score_files(config, LAYOUT),
