from udistil.logs import snakemake_job
from udistil.tables import Row, build_matrix_outputs

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    p = smk.params
    build_matrix_outputs(list(smk.input.metrics), [Row(**r) for r in p.rows], list(p.sets), list(p.benchmark),
                         list(p.splits), dict(p.stand_ins), smk.output.csv, smk.output.md, smk.output.tex)
