"""One call into the model at a time, with everything that waited scored as one batch."""

from __future__ import annotations

import threading

import numpy as np

WINDOW_BATCH = 32  # windows (or short clips) scored per call to the model


class _Job:
    def __init__(self, clips: list[tuple]):
        self.clips = clips
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class Batcher:
    """Lets one call into the model at a time, scoring everything that waited as one batch.

    Threads that arrive while the model is busy queue their prepared clips; the next thread to
    get the model takes the whole queue, so concurrent requests share a batch (one pass
    per fold CNN) instead of queueing one by one.
    """

    def __init__(self, score):
        self._score = score
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        self._model_lock = threading.Lock()

    def __call__(self, clips: list[tuple]) -> np.ndarray:
        job = _Job(clips)
        with self._queue_lock:
            self._queue.append(job)
        with self._model_lock:
            if job.result is None and job.error is None:
                with self._queue_lock:
                    jobs, self._queue = self._queue, []
                try:
                    scored = self._score([c for j in jobs for c in j.clips])
                    for j, end in zip(jobs, np.cumsum([len(j.clips) for j in jobs])):
                        j.result = scored[end - len(j.clips) : end]
                except BaseException as exc:
                    for j in jobs:
                        j.error = exc
        if job.error is not None:
            raise job.error
        return job.result
