"""The one progress protocol: `progress(items, total, label)` gives back the same items while
it shows them going by (a CLI bar, the web page's job status, a Dask run's count). Work measured
in seconds of audio rather than items reports through `advance(seconds)`; `seconds_done` turns
that into items for the same protocol."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

# progress(iterable, total, label) -> the same items
Progress = Callable[[Iterable, int, str], Iterable]
# advance(seconds): that many more seconds of audio are done (0.0: a chance to stop the job)
Advance = Callable[[float], None]


def no_progress(items: Iterable, total: int, label: str) -> Iterable:
    return items


def seconds_done(work: Callable[[Advance], None]) -> Iterator[None]:
    """Runs `work(advance)` on a thread; yields one item per whole second of audio it reports."""
    events: queue.Queue = queue.Queue()
    done = object()
    state = {"seconds": 0.0, "given": 0, "error": None}

    def advance(seconds: float) -> None:
        state["seconds"] += seconds
        while state["given"] < int(state["seconds"]):
            state["given"] += 1
            events.put(None)

    def run() -> None:
        try:
            work(advance)
        except BaseException as exc:  # handed to the caller's thread below
            state["error"] = exc
        finally:
            events.put(done)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while (event := events.get()) is not done:
        yield event
    thread.join()
    if state["error"] is not None:
        raise state["error"]


def in_seconds(progress: Progress, work: Callable[[Advance], None], duration_s: float | None, label: str) -> None:
    """Runs `work(advance)`, shown by `progress` as whole seconds of `duration_s`."""
    for _ in progress(seconds_done(work), int(np.ceil(duration_s or 0)), label):
        pass


def part(advance: Advance | None, fraction: float) -> Advance | None:
    """Progress for one read-through of audio read several times: each second read counts as
    `fraction` of a second of the recording."""
    return None if advance is None else (lambda seconds: advance(seconds * fraction))


def stopping(blocks: Iterable[np.ndarray], advance: Advance | None, rate: int) -> Iterator[np.ndarray]:
    """The blocks, telling `advance` each block's seconds (where a caller may stop the job)."""
    for block in blocks:
        yield block
        if advance is not None:
            advance(len(block) / rate)
