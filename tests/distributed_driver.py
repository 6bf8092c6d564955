"""Run inside each torchrun process by tests/test_distill_processes.py: the distillations of a spec in order,
recording the micro-batches this process draws (micro-batch index -> example indices) for each run, then the
process group destroyed as udistil.distill.worker does."""

import json
import os
import sys
from pathlib import Path

from udistil.distill import batches
from udistil.distill.launch import from_spec
from udistil.distill.worker import end_process_group, worker_logging


def main(spec_path: str) -> None:
    from udistil.distill.train import distill

    worker_logging()
    drawn: dict[int, list[int]] = {}
    plain = batches.batch_indices

    def recording(n, batch_size, micro_step, seed):
        drawn[micro_step] = plain(n, batch_size, micro_step, seed)
        return drawn[micro_step]

    batches.batch_indices = recording
    for run in json.loads(Path(spec_path).read_text())["runs"]:
        drawn.clear()
        distill(**from_spec(run["kwargs"]))
        Path(f"{run['drawn']}.rank{os.environ['RANK']}.json").write_text(json.dumps(drawn))
    end_process_group()  # as udistil.distill.worker ends


if __name__ == "__main__":
    main(sys.argv[1])
