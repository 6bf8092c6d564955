from udistil.decoding import DecodeOptions
from udistil.evaluate import EvalSet, evaluate
from udistil.logs import set_threads, snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    sets = [EvalSet(m, t, j, {"corpus": c, "split": s})
            for m, t, j, (c, s) in zip(smk.input.manifests, smk.output.tables, smk.output.metrics, smk.params.sets,
                                       strict=True)]
    evaluate(smk.params.model, sets, DecodeOptions.from_config(smk.config, dict(smk.params.decoding)),
             smk.params.normalizer, device=smk.config["device"], precision=smk.config["precision"],
             cache=smk.params.cache, extra={"model": smk.wildcards.model})
