"""Where a run's files live: results/<run>/..., logs/<run>/..., and models under the shared resources/. The one
place that spells a result path: rules, targets and scripts ask a `Layout` (wildcards such as "{pool}" pass
through as names)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def run_name(config: dict[str, Any], configfiles: list[str | Path] | None = None) -> str:
    """The config's `run`, else the stem of the (last) config file given (configs/evidence.yaml -> evidence)."""
    if config.get("run"):
        return config["run"]
    stem = Path(configfiles[-1]).stem if configfiles else ""
    if not RUN_RE.match(stem):
        raise ValueError(f"config key 'run': not set, and no config file name to take it from ({configfiles})")
    return stem


@dataclass(frozen=True)
class Layout:
    """The paths of one run."""

    run: str

    @property
    def root(self) -> str:
        return f"results/{self.run}"

    def res(self, path: str) -> str:
        return f"{self.root}/{path}"

    def log(self, job: str) -> str:
        """A job's log file (`job` names it: "scores/{pool}/nnll")."""
        return f"logs/{self.run}/{job}.log"

    def bench(self, job: str) -> str:
        """A job's Snakemake benchmark file."""
        return self.res(f"benchmarks/{job}.tsv")

    # ---- models and the run's own config ----
    def model_dir(self, name: str) -> str:
        """Folder the workflow builds for a packaged or random model (shared by every run)."""
        return f"resources/models/{name}"

    def config(self) -> str:
        """The filled config the run used."""
        return self.res("config.yaml")

    def fetched(self, part: str | None = None) -> str:
        """What `snakemake fetch` put in the Hugging Face cache (repo, type, revision, sha, folder); a `part`
        is one download job's share of it (e.g. "sonar")."""
        return self.res(f"fetched/{part}.json" if part else "fetched.json")

    # ---- corpora ----
    def manifest(self, corpus: str, split: str) -> str:
        return self.res(f"manifests/{corpus}/{split}.parquet")

    def rejected(self, corpus: str, split: str) -> str:
        """Inputs a manifest left out, each with its reason."""
        return self.res(f"manifests/{corpus}/{split}.rejected.tsv")

    def audio(self, corpus: str, split: str) -> str:
        """The manifest's 16 kHz mono clips."""
        return self.res(f"audio/{corpus}/{split}")

    # ---- pseudo-labels and transcripts ----
    def pseudo_labels(self, pool: str) -> str:
        return self.res(f"pseudo_labels/{pool}.parquet")

    def pseudo_label_shard(self, pool: str, shard: str | int) -> str:
        return self.res(f"pseudo_labels/{pool}/shard{shard}.parquet")

    def transcripts(self, pool: str, model: str) -> str:
        """A second model's plain transcripts of a pool (the proxy's)."""
        return self.res(f"transcripts/{pool}/{model}.parquet")

    def transcript_shard(self, pool: str, model: str, shard: str | int) -> str:
        return self.res(f"transcripts/{pool}/{model}/shard{shard}.parquet")

    # ---- scores and subsets ----
    def score(self, pool: str, score: str) -> str:
        return self.res(f"scores/{pool}/{score}.parquet")

    def subset(self, pool: str, filter_name: str, ext: str = "parquet") -> str:
        """A filter's kept clips (parquet) or its selection statistics (json)."""
        return self.res(f"subsets/{pool}/{filter_name}.{ext}")

    def dataset(self, pool: str, filter_name: str | None = None) -> str:
        """A `datasets.load_from_disk` folder: the pseudo-labelled pool with every score (`all`), or a filter's
        subset of it. No filter is called `all` (tests/test_plan.py)."""
        return self.res(f"datasets/{pool}/{filter_name or 'all'}")

    # ---- students ----
    def student_init(self, arch: str) -> str:
        return self.res(f"students/init-{arch}")

    def student(self, name: str, path: str = "") -> str:
        """A student's folder, or a file in it (model, loss.csv, run.json, validation.csv, checkpoints)."""
        return self.res(f"students/{name}" + (f"/{path}" if path else ""))

    def release(self, name: str) -> str:
        """A student's shareable folder (model files and card)."""
        return self.res(f"release/{name}")

    # ---- evaluation and results ----
    def evaluation(self, model: str, corpus: str, split: str, ext: str) -> str:
        return self.res(f"eval/{model}/{corpus}/{split}.{ext}")

    def table(self, name: str) -> str:
        return self.res(f"tables/{name}")

    def plot(self, name: str) -> str:
        return self.res(f"plots/{name}")

    def report(self) -> str:
        return self.res("report.html")
