from udistil.common.logs import snakemake_job
from udistil.corpora.manifest import build_manifest
from udistil.corpora.records import corpus_records, manifest_options

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    corpus, split = smk.wildcards.corpus, smk.wildcards.split
    build_manifest(records=corpus_records(name=corpus, spec=smk.params.spec, split=split, seed=smk.params.seed),
                   corpus=corpus, split=split, audio_dir=smk.output.audio, manifest_path=smk.output.manifest,
                   rejected_path=smk.output.rejected, max_seconds=smk.params.max_seconds,
                   split_long=smk.params.split_long,
                   **manifest_options(smk.params.spec))
