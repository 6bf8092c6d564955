import sys
from pathlib import Path

# envs/sonar.yaml does not install udistil (its pins conflict with sonar-space); import it from the workflow dir
sys.path.insert(0, str(Path(snakemake.scriptdir).parent.parent))  # noqa: F821 - injected by Snakemake

from udistil.common.logs import job_logging  # noqa: E402
from udistil.scores.sonar import fetch_encoders  # noqa: E402

smk = snakemake  # noqa: F821
with job_logging(smk.log[0], offline=False):
    fetch_encoders(encoders=dict(smk.params.encoders), out=smk.output.record)
