import pandas as pd

from udistil.common.fileio import write_text
from udistil.common.logs import snakemake_job
from udistil.corpora.manifest import read_manifest
from udistil.results.analysis import conditions_markdown, labels_by_condition
from udistil.results.table_io import write_csv

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    threshold = smk.params.threshold
    table = labels_by_condition(pd.read_parquet(smk.input.labels), read_manifest(smk.input.manifest),
                                smk.params.normalizer, threshold)
    write_csv(table, smk.output.csv)
    write_text(f"Teacher pseudo-label WER (%) on pool `{smk.wildcards.pool}` per condition and voice "
               "(clips in brackets), and the share of clips the supervised filter drops.\n\n"
               + conditions_markdown(table, threshold) + "\n", smk.output.md)
