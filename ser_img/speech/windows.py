"""The one windowing rule: windows of `window` samples every `hop`; after the last full window,
one shorter window from the next hop to the end when at least `min_tail` samples are left (or
when no full window fits at all). `window_spans` applies it to a stretch of known length (a turn
of a conversation); `sliding_windows` to a stream of blocks of unknown length (a long file), as
it is read. Each window stands for `hop` samples of the timeline (its own length when shorter)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    start: int  # sample offsets at the working sample rate
    end: int
    samples: np.ndarray


def window_spans(start: int, end: int, window: int, hop: int, min_tail: int) -> list[tuple[int, int]]:
    """(start, end) of the windows over [start, end), by the rule above."""
    spans = [(s, s + window) for s in range(start, end - window + 1, hop)]
    tail = spans[-1][0] + hop if spans else start
    covered = spans[-1][1] if spans else start
    if end > covered and tail < end and (end - tail >= min_tail or not spans):
        spans.append((tail, end))
    return spans


def stands_for(start: int, end: int, hop: int) -> int:
    """Samples of the timeline a window stands for: its hop (its own length where it is shorter)."""
    return min(hop, end - start)


def sliding_windows(blocks: Iterable[np.ndarray], window: int, hop: int, min_tail: int) -> Iterator[Window]:
    """`window_spans` over a stream of blocks, holding only about one window plus one block."""
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # stream position of buffer[0]
    start = 0  # next window's start
    covered = 0  # end of the last window given
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while start + window <= offset + len(buffer):
            local = start - offset
            yield Window(start, start + window, buffer[local : local + window].copy())
            covered, start = start + window, start + hop
        drop = min(start - offset, len(buffer))
        buffer, offset = buffer[drop:], offset + drop
    total = offset + len(buffer)
    if total > covered and start < total and (total - start >= min_tail or covered == 0):
        yield Window(start, total, buffer[start - offset :].copy())
