from udistil.logs import snakemake_job
from udistil.tables import Row, build_matrix_outputs

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    p = smk.params
    build_matrix_outputs(metric_paths=list(smk.input.metrics), rows=[Row(**r) for r in p.rows], sets=list(p.sets),
                         benchmark=list(p.benchmark), splits=list(p.splits), stand_ins=dict(p.stand_ins),
                         out_csv=smk.output.csv, out_md=smk.output.md, out_tex=smk.output.tex)
