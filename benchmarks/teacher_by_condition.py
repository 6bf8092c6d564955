"""Teacher (packaged whisper-base) WER per voice and per acoustic condition on synthetic clips, to tune corpora:
clean neural speech should sit near real-speech levels, harder conditions progressively worse. The last line
gives the teacher's WER on the recorded speech that ships in packages (udistil.corpora.packaged), for reference.

    .venv/bin/python benchmarks/teacher_by_condition.py [--clips 8] [--threads 2]
"""

from __future__ import annotations

from common import demo_config, parse_args, teacher_dir

VOICES = ["piper:en_US-joe-medium", "en-us+m1", "en-us+f2", "en-029+m2"]
CONDITIONS = ["clean", "white@20", "white@10", "white@5", "white@0", "babble@10", "babble@5", "babble@0",
              "reverb@0.3", "reverb@0.6", "speed@1.25", "clip@0.05"]


def main() -> None:
    args = parse_args(__doc__, clips=8)

    import pandas as pd

    from udistil.common.fileio import read_audio
    from udistil.common.normalize import normalizer
    from udistil.corpora.packaged import DATASETS, dataset_records
    from udistil.corpora.synthetic import SyntheticSpec, synthetic_records
    from udistil.evaluate.metrics import wer
    from udistil.labels.decoding import DecodeOptions, Transcriber

    demo = demo_config()
    options = DecodeOptions.from_section({**demo["decoding"], "language": "en", "task": "transcribe"})
    teacher = Transcriber.load(teacher_dir(), options, device="cpu", precision="fp32", cache=None)
    norm = normalizer("english")
    rows = []
    for voice in VOICES:
        for condition in CONDITIONS:
            spec = SyntheticSpec(voices=[voice], conditions=[condition], rate=(150, 200), pitch=(35, 65))
            records = list(synthetic_records(spec, args.clips, 7, "bench", f"{voice}-{condition}"))
            hyps = teacher.transcribe([r.source for r in records], desc=f"{voice} {condition}")
            refs = [norm(r.text) for r in records]
            rows.append({"voice": voice, "condition": condition,
                         "wer": wer(refs, [norm(h.text) for h in hyps])})
    real = [r for name in DATASETS for r in dataset_records(name)]
    hyps = teacher.transcribe([read_audio(r.source) if isinstance(r.source, bytes) else r.source for r in real],
                              desc="recorded speech")
    real_wer = wer([norm(r.text) for r in real], [norm(h.text) for h in hyps])
    table = pd.DataFrame(rows).pivot(index="condition", columns="voice", values="wer").loc[CONDITIONS, VOICES]
    print(f"teacher whisper-base WER (%), {args.clips} clips per cell, {args.threads} threads")
    print(table.round(1).to_markdown())
    print(f"\nrecorded speech ({', '.join(DATASETS)}; {len(real)} utterances): WER {real_wer:.1f}%")


if __name__ == "__main__":
    main()
