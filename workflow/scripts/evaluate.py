from udistil.common.logs import set_threads, snakemake_job
from udistil.evaluate.evaluation import EvalSet, evaluate
from udistil.labels.decoding import DecodeOptions

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    categories = dict(smk.params.categories)
    sets = [EvalSet(manifest=m, table=t, metrics=j, tags={"corpus": c, "split": s}, category=categories.get(c))
            for m, t, j, (c, s) in zip(smk.input.manifests, smk.output.tables, smk.output.metrics, smk.params.sets,
                                       strict=True)]
    evaluate(model=smk.params.model, sets=sets, options=DecodeOptions.from_section(dict(smk.params.decoding)),
             norm_kind=smk.params.normalizer, device=smk.params.device, precision=smk.params.precision,
             cache=dict(smk.params.cache), long_clips=smk.params.long_clips, extra={"model": smk.wildcards.model})
