"""Decoding speed on the CPU, whisper-base, one run: the Transcriber against plain `generate`, and timestamp decoding
with udistil's vectorised timestamp rules against transformers' processor.

Both decode the same length-sorted batches from the same encoder states (computed once, before timing), with
the same generation settings, so they generate the same tokens: the difference is the wrapper and the
statistics. Rows: plain `generate`; the Transcriber without statistics; with statistics gathered during
generation (the default); with statistics from every step's full-vocabulary logits (`output_logits`, the way
before). Each variant runs `--repeats` times, interleaved; the best time counts. Prints clips/s and ratios.

With `--timestamps 1`: `generate(return_timestamps=True)` (pseudo-labelling's decoding) on one batch of
`--timestamp-clips` clips at batch 16 and at batch 80, through `TimestampWhisper` (udistil.labels.timestamp_logits) and
through transformers' Whisper, the same weights and encoder states: seconds, the speed-up and whether the tokens
are the same. `--transcriber 0` leaves out the first part.

    .venv/bin/python benchmarks/decode.py [--clips 32] [--batch-size 16] [--threads 2] [--repeats 3]
    .venv/bin/python benchmarks/decode.py --transcriber 0 --timestamps 1 [--timestamp-clips 80] [--repeats 2]
"""

from __future__ import annotations

from collections.abc import Callable

from common import Replay, best_of, demo_config, parse_args, synthetic_clips, teacher_dir


def batches(clips: list, size: int) -> list[list]:
    """The Transcriber's length-sorted batches."""
    order = sorted(range(len(clips)), key=lambda i: -len(clips[i]))
    return [[clips[i] for i in order[b:b + size]] for b in range(0, len(order), size)]


def timestamps(clips: list, sizes: tuple[int, ...], repeats: int, threads: int) -> None:
    """`generate` with timestamps through the vectorised processor and through transformers', batch by batch."""
    import torch
    from transformers import AutoFeatureExtractor, WhisperForConditionalGeneration
    from transformers.modeling_outputs import BaseModelOutput

    from udistil.labels.timestamp_logits import TimestampWhisper
    from udistil.models.encoder_cache import Encoder

    models = {"transformers": WhisperForConditionalGeneration.from_pretrained(teacher_dir()).eval(),
              "vectorised": TimestampWhisper.from_pretrained(teacher_dir()).eval()}
    encoder = Encoder(models["transformers"], AutoFeatureExtractor.from_pretrained(teacher_dir()),
                      torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        states = encoder.run(clips)
    # one generate call per batch (one 30 s window, as pseudo-labelling means it): with encoder states and no
    # features, transformers 5.24's sequential path fails when a row asks for a second window
    kw = {"language": "en", "task": "transcribe", "return_timestamps": True, "max_new_tokens": 225,
          "force_unique_generate_call": True}
    eos = models["vectorised"].generation_config.eos_token_id  # also the padding
    print(f"timestamps: {len(clips)} clips, whisper-base, CPU, {threads} threads, best of {repeats}, "
          "from stored encoder states")
    for size in sizes:
        groups = [states[b:b + size] for b in range(0, len(clips), size)]

        def run(model, groups=groups) -> list[list[int]]:
            with torch.inference_mode():
                return [s for g in groups for s in model.generate(
                    encoder_outputs=BaseModelOutput(last_hidden_state=g), **kw).tolist()]

        seconds, tokens = best_of({name: (lambda m=m: run(m)) for name, m in models.items()}, repeats)
        same = "same tokens" if tokens["vectorised"] == tokens["transformers"] else "DIFFERENT tokens"
        print(f"  batch {size:3d}: transformers' processor {seconds['transformers']:6.2f} s, vectorised "
              f"{seconds['vectorised']:6.2f} s, speed-up {seconds['transformers'] / seconds['vectorised']:5.2f}x, "
              f"{sum(t != eos for s in tokens['vectorised'] for t in s) / len(clips):.0f} tokens/clip ({same})")


def main() -> None:
    args = parse_args(__doc__, clips=32, batch_size=16, repeats=3, transcriber=1, timestamps=0, timestamp_clips=80)
    if args.timestamps:
        timestamps([a for a, _ in synthetic_clips(args.timestamp_clips)], (16, 80), args.repeats, args.threads)
    if args.transcriber:
        transcriber_rows(args)


def transcriber_rows(args) -> None:
    """The Transcriber's variants against plain generate."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from udistil.labels.decoding import DecodeOptions, Transcriber

    clips = [a for a, _ in synthetic_clips(args.clips)]
    section = {**demo_config()["decoding"], "language": "en", "task": "transcribe"}

    def transcriber(with_stats: bool, on_the_fly: bool = True) -> Transcriber:
        options = DecodeOptions.from_section(section, batch_size=args.batch_size, with_stats=with_stats)
        t = Transcriber.load(teacher_dir(), options, device="cpu", precision="fp32", cache=None)
        if not on_the_fly:
            t.decoder.on_the_fly = lambda: False
        return t

    stats = transcriber(True)
    groups = batches(clips, args.batch_size)
    with torch.inference_mode():
        states = {id(g[0]): stats.decoder.encoder.run(g) for g in groups}
    model, eos = stats.model, stats.decoder.tokenizer.eos_token_id  # plain generate: same weights and settings
    plain_kw = transcriber(False).decoder.generate_kwargs()
    variants = {"stats (on the fly)": stats, "no stats": transcriber(False),
                "stats (all logits)": transcriber(True, on_the_fly=False)}
    for t in variants.values():
        t.decoder.encoder = Replay(states)

    @torch.inference_mode()
    def plain() -> list[list[int]]:
        out = []
        for g in groups:
            seqs = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=states[id(g[0])]), **plain_kw)
            out += [[t for t in s if t < eos] for s in seqs.tolist()]  # text tokens precede the specials
        return out

    def engine(t: Transcriber) -> Callable[[], list[list[int]]]:
        return lambda: [h.token_ids for g in groups for h in t.transcribe(g, desc="")]

    runs = {"plain generate": plain, **{name: engine(t) for name, t in variants.items()}}
    seconds, tokens = best_of(runs, args.repeats)
    n_tokens = sum(len(s) for s in tokens["plain generate"])
    print(f"{args.clips} clips, whisper-base, CPU, {args.threads} threads, batch {args.batch_size}, "
          f"best of {args.repeats}, decoding from stored encoder states; {n_tokens} text tokens")
    for name, s in seconds.items():
        same = "same tokens" if tokens[name] == tokens["plain generate"] else "DIFFERENT tokens"
        print(f"  {name:20s} {s:6.2f} s  {args.clips / s:6.2f} clips/s  "
              f"{seconds['plain generate'] / s:5.2f}x of plain  ({same})")


if __name__ == "__main__":
    main()
