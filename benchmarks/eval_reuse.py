"""Evaluation of the teacher and a frozen-encoder student on the same clips with and without encoder reuse,
in one run: seconds, encoder passes, and whether the hypotheses are identical.

    .venv/bin/python benchmarks/eval_reuse.py [--clips 24] [--threads 2]
"""

import tempfile
from pathlib import Path

from common import parse_args, synthetic_clips, teacher_dir


def main() -> None:
    args = parse_args(__doc__, clips=24)

    from udistil.decoding import DecodeOptions, Transcriber
    from udistil.student import init_student

    teacher = teacher_dir()
    work = Path(tempfile.mkdtemp(prefix="udistil-bench-"))
    init_student(teacher, 6, 3, work / "student")
    clips = [a for a, _ in synthetic_clips(args.clips, seed=11)]
    opts = DecodeOptions(language="en", batch_size=16, max_new_tokens=64, repetition_guard=True)
    rows = {}
    for mode in ("off", "on"):
        cache = {"mode": mode, "dir": str(work / "cache")}
        total, passes, texts = 0.0, 0, []
        for model in (teacher, str(work / "student")):  # the student reads the teacher's cached states
            t = Transcriber(model, opts, device="cpu", cache=cache)
            hyps = t.transcribe(clips)
            total += t.decode_seconds
            passes += t.encoder_passes
            texts.append([h.text for h in hyps])
        rows[mode] = (total, passes, texts)
    print(f"teacher + student 6-3, {args.clips} clips, {args.threads} threads (cache filled by the teacher's pass)")
    for mode, label in (("off", "without reuse"), ("on", "with reuse")):
        print(f"  {label:14s} {rows[mode][0]:7.1f} s  encoder passes {rows[mode][1]}")
    print(f"  speed-up: {rows['off'][0] / rows['on'][0]:.2f}x; identical hypotheses: {rows['off'][2] == rows['on'][2]}")


if __name__ == "__main__":
    main()
