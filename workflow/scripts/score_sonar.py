import sys
from pathlib import Path

# envs/sonar.yaml does not install udistil (its pins conflict with sonar-space); import it from the workflow dir
sys.path.insert(0, str(Path(snakemake.scriptdir).parent.parent))  # noqa: F821 - injected by Snakemake

from udistil.logs import set_threads, snakemake_job  # noqa: E402
from udistil.scores.jobs import run_sonar  # noqa: E402

smk = snakemake  # noqa: F821
with snakemake_job(smk):
    set_threads(smk.threads)
    run_sonar(smk.input.labels, smk.params.cfg, smk.output.score, transcripts=smk.input.get("transcripts"),
              manifest=smk.input.get("manifest"), model=smk.params.model, device=smk.config["device"])
