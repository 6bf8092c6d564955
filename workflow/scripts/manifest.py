from udistil.corpora import corpus_records
from udistil.logs import snakemake_job
from udistil.manifest import build_manifest

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    records = corpus_records(smk.wildcards.corpus, smk.params.spec, smk.wildcards.split, smk.params.seed)
    build_manifest(records, smk.wildcards.corpus, smk.wildcards.split, smk.output.audio,
                   smk.output.manifest, smk.output.rejected)
