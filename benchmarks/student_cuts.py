"""Candidate student cuts of the packaged whisper-base, untrained, on the recorded speech that ships in packages
(udistil.corpora.packaged): WER per cut, next to the teacher (6-6). It chooses the evidence run's student: a cut
whose untrained decoder already forms words needs fewer distillation steps on two CPU cores.

    .venv/bin/python benchmarks/student_cuts.py [--threads 2]
"""

from __future__ import annotations

import tempfile

from common import demo_config, parse_args, teacher_dir

CUTS = ["6-6", "6-5", "6-4", "6-3"]


def main() -> None:
    parse_args(__doc__)

    import pandas as pd

    from udistil.common.fileio import read_audio
    from udistil.common.normalize import normalizer
    from udistil.corpora.packaged import DATASETS, dataset_records
    from udistil.distill.student import init_student, parse_arch
    from udistil.evaluate.metrics import wer
    from udistil.labels.decoding import DecodeOptions, Transcriber

    demo = demo_config()
    options = DecodeOptions.from_section({**demo["decoding"], "language": "en", "task": "transcribe"})
    norm = normalizer("english")
    real = [r for name in DATASETS for r in dataset_records(name)]
    audios = [read_audio(r.source) if isinstance(r.source, bytes) else r.source for r in real]
    refs = [norm(r.text) for r in real]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cut in CUTS:
            enc, dec = parse_arch(cut)
            folder = teacher_dir() if cut == "6-6" else f"{tmp}/{cut}"
            if cut != "6-6":
                init_student(teacher=teacher_dir(), encoder_layers=enc, decoder_layers=dec, out_dir=folder)
            model = Transcriber.load(folder, options, device="cpu", precision="fp32", cache=None)
            hyps = [norm(h.text) for h in model.transcribe(audios, desc=cut)]
            rows.append({"cut": cut, "wer": wer(refs, hyps), "example": hyps[0][:70]})
    print(f"untrained cuts of whisper-base on {len(real)} recorded utterances ({', '.join(DATASETS)}), "
          f"greedy, max {options.max_new_tokens} new tokens; reference: {refs[0][:70]}")
    print(pd.DataFrame(rows).round(1).to_markdown(index=False))


if __name__ == "__main__":
    main()
