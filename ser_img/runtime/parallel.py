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
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    chunk = max(1, min(16, len(jobs) // (4 * workers)))  # fewer round trips for many small jobs
    with worker_pool(workers, lazy=True) as mapper:
        yield from mapper(function, jobs, chunk)


@contextlib.contextmanager
def worker_pool(workers: int | None = None, lazy: bool = False):
    """A map(function, jobs, chunk=1) that lasts a whole job: over `workers` processes (every
    core by default), started once, `chunk` jobs a round trip; in-process for one worker. It
    returns a list, or with `lazy` an iterator over the results in order as they are ready
    (every job is submitted at once, so the workers go on while the caller uses the first
    results)."""
    workers = workers or os.cpu_count() or 1
    collect = iter if lazy else list
    if workers <= 1:
        single_threaded_blas()
        yield lambda function, jobs, chunk=1: collect(map(function, jobs))
        return
    from threadpoolctl import threadpool_limits

    # spawn: the caller may already hold TensorFlow's threads, which fork would copy broken
    context = multiprocessing.get_context("spawn")
    # this process goes on working beside the workers (it scores what they decode): BLAS threads
    # of its own would spin against them for the same cores (a folder took 24 % longer)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=single_threaded_blas)
    try:
        with threadpool_limits(1, user_api="blas"):
            yield lambda function, jobs, chunk=1: collect(pool.map(function, jobs, chunksize=chunk))
    except BaseException:  # Ctrl-C or a caller that stops early: nothing queued or running is waited for
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the worker processes now (a running job of eight files
    would otherwise hold the interpreter's exit for seconds). Python 3.14 has this as
    ProcessPoolExecutor.terminate_workers; before it, the same by hand."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    # The dict itself, not a copy: the executor's manager thread shares it, and shutdown() lets go of it.
    workers = getattr(pool, "_processes", None)
    workers = {} if workers is None else workers
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    _end(list(workers.values()))
    if manager is not None:
        manager.join(timeout=2.0)  # it sees the pool broken and winds down
    _end([p for p in list(workers.values()) if p.is_alive()])  # any it started meanwhile (seen twice in CI)


def _end(processes: list) -> None:
    """SIGTERM, then SIGKILL for any still alive a second later."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=1.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=1.0)
