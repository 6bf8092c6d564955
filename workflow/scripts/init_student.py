from udistil.logs import snakemake_job
from udistil.student import init_student, parse_arch

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    enc, dec = parse_arch(smk.wildcards.arch)
    init_student(smk.params.teacher, enc, dec, smk.output.model, encoder_map=smk.params.maps.get("encoder"),
                 decoder_map=smk.params.maps.get("decoder"))
