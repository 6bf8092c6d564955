# The configuration a run uses, written out with every schema default filled (provenance; `make config` prints it).


rule run_config:
    output:
        config=LAYOUT.config(),
    params:
        config={**config, "run": RUN},  # the run named, so that the file stands alone
    log:
        logs("config"),
    localrule: True
    conda:
        "../envs/udistil.yaml"
    script:
        "../workflow/scripts/run_config.py"
