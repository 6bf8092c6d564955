from udistil.common.logs import snakemake_job
from udistil.selection.select import run_select

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk) as log:
    supervised = smk.input.supervised if "supervised" in smk.input.keys() else None  # match_supervised rules only
    stats = run_select(labels=smk.input.labels, manifest=smk.input.manifest, score_paths=list(smk.input.scores),
                       rule=smk.params.rule, filter_name=smk.wildcards.filter, norm_kind=smk.params.normalizer,
                       out_subset=smk.output.subset, out_stats=smk.output.stats, supervised_stats=supervised)
    log.info("subset %s: %s", smk.wildcards.filter, stats)
