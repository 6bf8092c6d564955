from udistil.decoding import DecodeOptions
from udistil.evaluate import evaluate
from udistil.logs import set_threads, snakemake_job

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    set_threads(smk.threads)
    wc = smk.wildcards
    evaluate(smk.params.model, smk.input.manifest, DecodeOptions.from_config(smk.config, dict(smk.params.decoding)),
             smk.params.normalizer, smk.output.table, smk.output.metrics, device=smk.config["device"],
             precision=smk.config["precision"], cache=smk.params.cache,
             extra={"model": wc.model, "corpus": wc.corpus, "split": wc.split})
