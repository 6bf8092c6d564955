# Downloads for a cluster whose nodes are offline: `snakemake fetch --configfile C` (on a login node that reaches
# the hub) fills the Hugging Face cache with every hub model and dataset the config names (udistil.plan.hub), and
# the SONAR encoders with the real SONAR backend. Not part of `rule all`; it runs whatever `offline` says, and the
# offline check (rules/common.smk) leaves a run of these rules alone.


rule fetch:
    input:
        parts=[LAYOUT.fetched("sonar")] if SONAR_ENCODERS else [],
    output:
        record=LAYOUT.fetched(),
    params:
        repos=[vars(r) for r in HUB_REPOS],  # a changed list reruns the job (params trigger)
    log:
        logs("fetch"),
    benchmark:
        bench("fetch")
    localrule: True
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/fetch.py"


rule fetch_sonar:
    output:
        record=LAYOUT.fetched("sonar"),
    params:
        encoders=SONAR_ENCODERS,
    log:
        logs("fetch_sonar"),
    localrule: True
    conda:
        "../envs/sonar.yaml"
    script:
        "../workflow/scripts/fetch_sonar.py"
