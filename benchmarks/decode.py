"""The Transcriber with token statistics on against plain `model.generate`, whisper-base on the CPU, one run.

Both decode the same length-sorted batches from the same encoder states (computed once, before timing), with
the same generation settings, so they generate the same tokens: the difference is the wrapper and the
statistics. Rows: plain `generate`; the Transcriber without statistics; with statistics gathered during
generation (the default); with statistics from every step's full-vocabulary logits (`output_logits`, the way
before). Each variant runs `--repeats` times, interleaved; the best time counts. Prints clips/s and ratios.

    .venv/bin/python benchmarks/decode.py [--clips 32] [--batch-size 16] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

from collections.abc import Callable

from common import Replay, best_of, demo_config, parse_args, synthetic_clips, teacher_dir


def batches(clips: list, size: int) -> list[list]:
    """The Transcriber's length-sorted batches."""
    order = sorted(range(len(clips)), key=lambda i: -len(clips[i]))
    return [[clips[i] for i in order[b:b + size]] for b in range(0, len(order), size)]


def main() -> None:
    args = parse_args(__doc__, clips=32, batch_size=16, repeats=3)

    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from udistil.decoding import DecodeOptions, Transcriber

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
