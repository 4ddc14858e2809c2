"""The client's side of a Dask cluster: connecting (or starting `local` workers), Dask's
configuration, setting up and checking the workers, carrying on when a worker is lost while
they are set up, and gathering tasks' results with a lost task as one line.

Dask is imported only here and only when a cluster is asked for: `pip install 'ser-img[cluster]'`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ser_img.errors import ClusterError, SerImgError, UsageError

log = logging.getLogger("ser_img")
CONNECT_TIMEOUT_S = 20.0  # for the scheduler to answer, and for a first worker to join it
SETUP_TRIES = 4  # a setup step on every worker is tried again this often when workers are lost meanwhile
INSTALL_HINT = "pip install 'ser-img[cluster]'"


def _configure_dask() -> None:
    """Dask's INFO lines would bury our progress bar: warnings and errors still show. The
    workers that `local` starts do not sample their stacks every 10 ms for Dask's profiler,
    which cost about 5 % of the scoring time (1.52 against 1.41 CPU-s for 100 clips)."""
    import dask

    dask.config.set({"logging.distributed": "warning", "distributed.worker.profile.enabled": False})
    for name in ("distributed", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--scheduler needs Dask: {INSTALL_HINT}") from None
    _configure_dask()
    return distributed


@contextmanager
def connect(scheduler: str) -> Iterator:
    """A Dask client: `local` / `local:N` starts N worker processes here (N = all cores by
    default); anything else is a scheduler's address, such as tcp://host:8786."""
    distributed = _import_distributed()
    cluster = None
    try:
        if scheduler == "local" or scheduler.startswith("local:"):
            workers = _local_workers(scheduler)
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None)
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot connect to the Dask scheduler at {scheduler}: {_one_line(exc)}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ClusterError(f"no worker joined the scheduler at {scheduler} within "
                               f"{CONNECT_TIMEOUT_S:.0f} s (start some with 'dask worker {scheduler}')") from None
        set_up_workers(client)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def client_or_none(scheduler: str | None):
    """`connect(scheduler)`, or None (this machine) without a scheduler."""
    if scheduler is None:
        yield None
    else:
        with connect(scheduler) as client:
            yield client


def restore_malloc_defaults() -> None:
    """Undo, in a worker, the MALLOC_TRIM_THRESHOLD_ that Dask's nanny sets for its workers.

    Setting it pins glibc's mmap threshold at 128 KiB, so every image- or spectrum-sized
    array becomes a fresh mmap of zero-filled pages: the same scoring ran at 27 clips/s in
    such a process against 48 without it (one core). 32 MiB is the ceiling of glibc's own
    sliding threshold, and the trim threshold is twice it, as glibc keeps them.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: there is nothing to undo
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
    libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def _local_workers(scheduler: str) -> int | None:
    count = scheduler.partition(":")[2]
    if not count:
        return None  # Dask's default: one process per core
    if not count.isdigit() or int(count) < 1:
        raise UsageError(f"--scheduler {scheduler}: expected local or local:N with N >= 1")
    return int(count)


def set_up_workers(client) -> None:
    """Check every worker (a worker without ser-img is one line), then install the worker
    callbacks (on this and future workers); a worker lost meanwhile leaves the rest to carry on."""
    despite_lost_workers(client, lambda: check_workers(client), "checking the workers")
    despite_lost_workers(client, lambda: client.register_worker_callbacks(setup=restore_malloc_defaults),
                         "setting up the workers")


def broadcast(client, data):
    """`data` on every worker (the model bundle), sent again to those left should one be lost on the way."""
    return despite_lost_workers(client, lambda: client.scatter(data, broadcast=True), "sending the model")


def despite_lost_workers(client, step, what: str, pause_s: float = 1.0):
    """`step()`, a call that reaches every worker, tried again when a worker drops out under it.

    A worker killed while the cluster is set up (worker callbacks, the model broadcast) makes
    such a call fail with a closed connection; the workers that remain can still do the run,
    as they do when one is lost later on. Other failures, and losing every worker, stop the run.
    """
    import time

    for attempt in range(1, SETUP_TRIES + 1):
        try:
            return step()
        except SerImgError:
            raise
        except Exception as exc:  # noqa: BLE001 - told apart below
            if not _connection_lost(exc):
                raise ClusterError(f"{what} failed: {_one_line(exc)}") from None
            time.sleep(pause_s)  # for the scheduler to notice the loss
            remaining = len(_worker_addresses(client))
            if remaining == 0 or attempt == SETUP_TRIES:
                raise ClusterError(f"{what} failed: workers were lost ({_one_line(exc)}); "
                                   f"{remaining} left") from None
            log.warning("a worker was lost while %s; carrying on with the %d left", what, remaining)


def _connection_lost(exc: BaseException) -> bool:
    """A closed connection to a worker (Dask's CommClosedError is an OSError), or a worker gone."""
    return isinstance(exc, (OSError, EOFError)) or type(exc).__name__ in ("KilledWorker", "CommClosedError")


def _worker_addresses(client) -> set[str]:
    try:
        return set(client.scheduler_info().get("workers", {}))
    except Exception:  # noqa: BLE001 - a scheduler that cannot answer has no workers for us
        return set()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def check_workers(client, readable: list[Path] = (), writable: list[Path] = (), module: str = "ser_img") -> None:
    """Fail with one line naming the worker when one cannot import ser-img or reach a path.

    The probe is defined inside this function so that Dask sends it by value: a worker
    without ser-img could not unpickle a function that lives in ser-img's own modules.
    """
    readable, writable = [str(p) for p in readable], [str(p) for p in writable]

    def probe() -> str:
        import importlib
        import os

        try:
            importlib.import_module(module)
        except ImportError:
            return f"cannot import {module} (install ser-img on every worker)"
        for path in readable:
            if not os.access(path, os.R_OK):
                return f"cannot read {path} (audio must be on a filesystem that every worker sees)"
        for path in writable:
            if not os.access(path, os.W_OK):
                return f"cannot write to {path} (the output must be on a filesystem that every worker sees)"
        return ""

    answers = client.run(probe, on_error="return")
    lost = [worker for worker, problem in answers.items() if isinstance(problem, BaseException)
            and _connection_lost(problem)]
    if lost and len(lost) == len(answers):
        raise ClusterError(f"every worker was lost while being checked ({_one_line(answers[lost[0]])})")
    for worker in lost:  # gone while it was being checked: the others carry on
        log.warning("worker %s was lost while being checked; carrying on without it", worker)
    for worker, problem in sorted(answers.items()):
        if worker in lost:
            continue
        if isinstance(problem, BaseException):
            problem = _one_line(problem)
        if problem:
            raise ClusterError(f"worker {worker}: {problem}")


def gather(client, futures) -> Iterator:
    """Each future's result as it finishes; a task Dask gave up on becomes one line, not a traceback."""
    from distributed import as_completed

    try:
        for future in as_completed(futures):
            try:
                yield future.result()
            except SerImgError:
                raise
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler, ...
                raise ClusterError(f"the cluster could not finish a task: {_one_line(exc)}") from None
            future.release()
    finally:
        client.cancel(futures)
