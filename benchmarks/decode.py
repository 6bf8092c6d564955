"""Decoding engine (batched, length-sorted) against one-utterance-at-a-time `generate` (the paper's
evaluate.py), same model, same clips, one run. Prints clips/s of both and the ratio.

    .venv/bin/python benchmarks/decode.py [--clips 32] [--batch-size 16] [--threads 2]
"""


from common import demo_config, parse_args, synthetic_clips, teacher_dir, timed


def main() -> None:
    args = parse_args(__doc__, clips=32, batch_size=16)

    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from udistil.decoding import DecodeOptions, Transcriber

    folder = teacher_dir()
    clips = [a for a, _ in synthetic_clips(args.clips)]
    times: dict[str, float] = {}

    proc = WhisperProcessor.from_pretrained(folder)
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    plain = []
    with timed("one at a time", times), torch.inference_mode():
        for audio in clips:
            feats = proc(audio, sampling_rate=16000, return_tensors="pt").input_features
            ids = model.generate(feats, language="en", task="transcribe", max_new_tokens=64)
            plain.append(proc.batch_decode(ids, skip_special_tokens=True)[0].strip())

    demo = demo_config()
    options = DecodeOptions.from_section({**demo["decoding"], "language": "en", "task": "transcribe"},
                                         batch_size=args.batch_size, max_new_tokens=64)
    engine = Transcriber(folder, options, device="cpu", precision="fp32", cache=None)
    with timed("engine", times):
        hyps = engine.transcribe(clips)

    same = sum(h.text == p for h, p in zip(hyps, plain, strict=True))
    print(f"{args.clips} clips, whisper-base, {args.threads} threads, batch {args.batch_size}")
    for label, seconds in times.items():
        print(f"  {label:14s} {seconds:7.1f} s  {args.clips / seconds:6.2f} clips/s")
    print(f"  speed-up (engine / one at a time): {times['one at a time'] / times['engine']:.2f}x")
    print(f"  identical transcripts: {same}/{args.clips}")


if __name__ == "__main__":
    main()
