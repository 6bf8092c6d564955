import sys
from pathlib import Path

# envs/sonar.yaml does not install udistil (its pins conflict with sonar-space); import it from the workflow dir
sys.path.insert(0, str(Path(snakemake.scriptdir).parent.parent))  # noqa: F821 - injected by Snakemake

from udistil.common.logs import set_threads, snakemake_job  # noqa: E402
from udistil.scores.sonar import run_sonar  # noqa: E402

smk = snakemake  # noqa: F821
with snakemake_job(smk):
    set_threads(smk.threads)
    given = smk.input.keys()  # the stand-in reads proxy transcripts, SONAR itself the pool's audio
    run_sonar(labels=smk.input.labels, cfg=dict(smk.params.cfg), out=smk.output.score,
              transcripts=smk.input.transcripts if "transcripts" in given else None,
              manifest=smk.input.manifest if "manifest" in given else None, model=smk.params.model,
              device=smk.params.device)
