"""Clips read when their turn comes: a job holds a bounded window of audio, whatever the number of clips.

`Clips` is a lazy sequence of a manifest's audio files. Its lengths come from the manifest's `duration_s`, so
a decoder can sort clips by length without reading them; `batches` reads batch after batch a little ahead of
the consumer (a prefetch thread, or DataLoader worker processes), never more than a few batches at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import soundfile as sf

from udistil.common.errors import ManifestError
from udistil.common.fileio import SAMPLE_RATE, read_audio

PREFETCH = 2  # batches read ahead of the one being decoded
T = TypeVar("T")
R = TypeVar("R")


def read_clip(path: str, desc: str) -> np.ndarray:
    """The 16 kHz samples of one manifest file; a missing file is named with its manifest."""
    if not Path(path).exists():
        raise ManifestError(f"audio file {path} ({desc}) does not exist: rebuild its manifest")
    return read_audio(path)


@dataclass(frozen=True)
class Clips(Sequence[np.ndarray]):
    """The clips at `paths` (with their `durations` in seconds, the manifest's `duration_s`), each read on
    access; `max_samples` cuts every clip to its first samples (e.g. Whisper's first 30 s window)."""

    paths: tuple[str, ...]
    durations: tuple[float, ...]
    desc: str
    max_samples: int | None = None

    @classmethod
    def of(cls, paths: Iterable[str], durations: Iterable[float], desc: str, *,
           max_samples: int | None = None) -> Clips:
        paths, durations = tuple(map(str, paths)), tuple(map(float, durations))
        if len(paths) != len(durations):
            raise ValueError(f"{desc}: {len(paths)} audio paths but {len(durations)} durations")
        return cls(paths, durations, desc, max_samples)

    @classmethod
    def from_files(cls, paths: Iterable[str], desc: str) -> Clips:
        """Clips of files without a manifest: their durations from the file headers (no samples read)."""
        paths = [str(p) for p in paths]
        Clips(tuple(paths), (0.0,) * len(paths), desc).check()
        return cls.of(paths, [sf.info(p).duration for p in paths], desc)

    def __len__(self) -> int:
        return len(self.paths)

    def check(self) -> Clips:
        """Fail before any decoding when a file is missing, naming the first ones."""
        missing = [p for p in self.paths if not Path(p).exists()]
        if missing:
            more = f" (and {len(missing) - 1} more: {missing[1:10]})" if len(missing) > 1 else ""
            raise ManifestError(f"audio file {missing[0]} ({self.desc}) does not exist{more}: rebuild its manifest")
        return self

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> Clips: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | Clips:
        if isinstance(i, slice):
            return Clips(self.paths[i], self.durations[i], self.desc, self.max_samples)
        audio = read_clip(self.paths[i], self.desc)
        return audio if self.max_samples is None else audio[:self.max_samples]

    def subset(self, indices: Sequence[int]) -> Clips:
        """The clips at `indices`, still unread."""
        return Clips(tuple(self.paths[i] for i in indices), tuple(self.durations[i] for i in indices), self.desc,
                     self.max_samples)

    def length(self, i: int) -> float:
        """Clip `i`'s length in seconds as decoded (after the `max_samples` cut), from its duration."""
        cut = float("inf") if self.max_samples is None else self.max_samples / SAMPLE_RATE
        return min(self.durations[i], cut)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every clip in order, read one ahead by a thread."""
        for batch in prefetched(self.read_batch, ([i] for i in range(len(self))), depth=PREFETCH):
            yield batch[0]

    def read_batch(self, indices: Sequence[int]) -> list[np.ndarray]:
        return [self[i] for i in indices]


def clip_length(audios: Sequence[np.ndarray], i: int) -> float:
    """The sort key of a decoder: a lazy clip's duration (not read), or an in-memory clip's sample count."""
    return audios.length(i) if isinstance(audios, Clips) else float(len(audios[i]))


def subset(audios: Sequence[np.ndarray], indices: Sequence[int]) -> Sequence[np.ndarray]:
    """The clips at `indices`: still unread for `Clips`, a list for clips in memory."""
    return audios.subset(indices) if isinstance(audios, Clips) else [audios[i] for i in indices]


def ordered_map(pool: Executor, fn: Callable[[T], R], items: Iterable[T], *, ahead: int) -> Iterator[R]:
    """`fn(item)` for each item in order, computed by `pool` at most `ahead` items ahead of the consumer (never
    the whole input at once, unlike `Executor.map`)."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def prefetched(fn: Callable[[T], R], items: Iterable[T], *, depth: int) -> Iterator[R]:
    """`fn(item)` for each item in order, computed by one thread at most `depth` items ahead of the consumer."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        yield from ordered_map(pool, fn, items, ahead=depth)


def batches(audios: Sequence[np.ndarray], order: Sequence[Sequence[int]], *, workers: int,
            prepare: Callable[[list[np.ndarray]], Any] | None = None
            ) -> Iterator[tuple[list[int], list[np.ndarray], Any]]:
    """`(indices, clips, prepared)` of each batch of `order`, in order. Lazy clips are read ahead of the consumer
    by a thread (`workers` 0) or by DataLoader worker processes, at most a few batches; clips in memory are
    handed out as they are. `prepare(clips)` (e.g. their features) runs beside the reading, in the workers;
    `prepared` is None without it. No more workers start than there are batches (a split of one batch: one)."""
    order = [list(idx) for idx in order]
    workers = min(workers, len(order))
    reader = _BatchReader(audios, prepare)
    if not isinstance(audios, Clips):
        for idx in order:
            yield idx, *reader[idx]
        return
    if workers == 0:
        for idx, (clips, prepared) in zip(order, prefetched(reader.__getitem__, order, depth=PREFETCH), strict=True):
            yield idx, clips, prepared
        return
    from torch.utils.data import DataLoader

    loader = DataLoader(reader, batch_size=None, sampler=order, num_workers=workers, prefetch_factor=PREFETCH,
                        collate_fn=_as_is)
    for idx, (clips, prepared) in zip(order, loader, strict=True):
        yield idx, clips, prepared


class _BatchReader:
    """A map-style dataset whose items are whole batches (lists of indices): the clips, and `prepare(clips)`."""

    def __init__(self, clips: Sequence[np.ndarray], prepare: Callable[[list[np.ndarray]], Any] | None):
        self.clips, self.prepare = clips, prepare

    def __getitem__(self, indices: list[int]) -> tuple[list[np.ndarray], Any]:
        clips = [self.clips[i] for i in indices]
        return clips, (self.prepare(clips) if self.prepare else None)

    def __len__(self) -> int:
        return len(self.clips)


def _as_is(batch: Any) -> Any:
    return batch
