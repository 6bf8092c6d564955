from udistil.common.logs import snakemake_job
from udistil.distill.student import init_student, parse_arch

smk = snakemake  # noqa: F821 - injected by Snakemake
with snakemake_job(smk):
    enc, dec = parse_arch(smk.wildcards.arch)
    maps = dict(smk.params.maps)  # an empty map: distil-whisper's evenly spaced layers
    init_student(teacher=smk.params.teacher, encoder_layers=enc, decoder_layers=dec, out_dir=smk.output.model,
                 encoder_map=maps["encoder"] if "encoder" in maps else None,
                 decoder_map=maps["decoder"] if "decoder" in maps else None)
