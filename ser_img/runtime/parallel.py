"""map() over worker processes, each with one BLAS thread."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def single_threaded_blas() -> None:
    """One BLAS thread per process: rendering's small matrix products run 4x slower when
    OpenBLAS spreads them over threads that the other worker processes also want."""
    import numpy  # noqa: F401  (loads OpenBLAS: a limit set before it loads limits nothing)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def run_parallel(function, jobs: list, workers: int | None = None):
    """map(function, jobs) over every core, in order; in-process for one worker or job."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        single_threaded_blas()
        yield from map(function, jobs)
        return
    # spawn: the caller may already hold TensorFlow's threads, which fork would copy broken.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=single_threaded_blas) as pool:
        yield from pool.map(function, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers))))


@contextlib.contextmanager
def worker_pool(workers: int | None = None, lazy: bool = False):
    """A map(function, jobs) that lasts a whole job: over `workers` processes (every core by
    default), started once; in-process for one worker. It returns a list, or with `lazy` an
    iterator over the results in order as they are ready (every job is submitted at once,
    so the workers go on while the caller uses the first results)."""
    workers = workers or os.cpu_count() or 1
    collect = iter if lazy else list
    if workers <= 1:
        single_threaded_blas()
        yield lambda function, jobs: collect(map(function, jobs))
        return
    from threadpoolctl import threadpool_limits

    context = multiprocessing.get_context("spawn")
    # this process goes on working beside the workers (it scores what they decode): BLAS threads
    # of its own would spin against them for the same cores (a folder took 24 % longer)
    with threadpool_limits(1, user_api="blas"), \
            ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=single_threaded_blas) as pool:
        yield lambda function, jobs: collect(pool.map(function, jobs))
