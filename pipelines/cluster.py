"""`predict` and `render` on a Dask cluster, and predictions into a resumable Parquet dataset.

The client finds the files, sends the model to the workers once (its files' bytes, checked
against the model's manifest on both sides) and submits batches of paths; each worker
loads the model once per process and scores its batches with the recognizer (`recognize_paths`), the code
path of a local run, so the answers are the same. Only the client writes results, one
Parquet part per finished batch (pipelines.results), so a task that Dask runs again after a
worker died can never add a second row. Audio paths (and render's output folder) must be
on a filesystem that every worker sees.

Dask is imported only here and only when a cluster is asked for: `pip install 'ser-img[cluster]'`.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ser_img.errors import ClusterError, SerImgError, UsageError
from ser_img.corpus.files import find_audio
from ser_img.ensemble.model import EmotionModel
from ser_img.store.load import load_model
from ser_img.store.manifest import MANIFEST_FILE, read_description
from ser_img.recognizer import EmotionRecognizer, model_info, resolve_model_dir
from ser_img.scoring.files import FILE_BATCH
from pipelines.results import ParquetResults, failure_row, file_row, segment_rows, speaker_rows
from ser_img.features.spectrogram import RenderSettings

from . import Progress, no_progress
from .predict import PredictReport, assemble_report, recognize_paths
from .render import RenderReport, render_folder

log = logging.getLogger("ser_img")
FILES_PER_TASK = 64  # files a worker scores per task: small enough to spread, big enough to batch
CONNECT_TIMEOUT_S = 20.0  # for the scheduler to answer, and for a first worker to join it
SETUP_TRIES = 4  # a setup step on every worker is tried again this often when workers are lost meanwhile
INSTALL_HINT = "pip install 'ser-img[cluster]'"


@dataclass
class ModelBundle:
    """A model directory's files as bytes: workers get the model from the client, not their disk."""

    key: str  # SHA-256 of the manifest, which holds every other file's SHA-256
    name: str  # the directory's name, kept so that the model reports the same name everywhere
    files: dict[str, bytes] = field(repr=False)


def bundle_model(model_dir: Path) -> ModelBundle:
    """The files the manifest lists, read after checking them (a damaged model fails here, once)."""
    model_dir = Path(model_dir)
    names = [*read_description(model_dir)["files"], MANIFEST_FILE]
    files = {name: (model_dir / name).read_bytes() for name in names}
    return ModelBundle(hashlib.sha256(files[MANIFEST_FILE]).hexdigest(), model_dir.resolve().name, files)


_worker_models: dict[str, tuple[EmotionModel, Path]] = {}
_worker_lock = threading.Lock()


def worker_model(bundle: ModelBundle) -> tuple[EmotionModel, Path]:
    """The bundle's model, written to a private folder and loaded once per worker process."""
    with _worker_lock:
        if bundle.key not in _worker_models:
            root = Path(tempfile.mkdtemp(prefix="ser-img-model-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            folder = root / bundle.name
            folder.mkdir()
            for name, data in bundle.files.items():
                (folder / name).write_bytes(data)
            # One LiteRT thread: a worker thread is one core's worth of work (Dask's nanny sets
            # OMP_NUM_THREADS=1 for XGBoost and LightGBM likewise); LiteRT's default of two
            # threads spun on a core that the other worker wanted.
            _worker_models[bundle.key] = (load_model(folder, cnn_threads=1), folder)  # checks the manifest again
        return _worker_models[bundle.key]


def score_batch(bundle: ModelBundle, paths: list[str], window_s: float | None,
                hop_s: float | None, speakers: str | int | None = None, segmenter: str = "silero") -> PredictReport:
    """One task: a batch scored on a worker. A bad file is a failure in the report, never an
    exception, so Dask never sees a failed task for it."""
    model, folder = worker_model(bundle)
    recognizer = EmotionRecognizer(model, folder, window_s=window_s, hop_s=hop_s, workers=1, speakers=speakers,
                                   segmenter=segmenter)
    try:
        return recognize_paths(recognizer, list(map(Path, paths)))
    except Exception:  # noqa: BLE001 - something unforeseen in one file: find it file by file
        results = {}
        for path in map(Path, paths):
            try:
                results[path] = recognize_paths(recognizer, [path]).answers[0][1]
            except Exception as exc:  # noqa: BLE001
                results[path] = f"{path}: {type(exc).__name__}: {exc}"
        return assemble_report(folder, list(map(Path, paths)), results)


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


def _gather(client, futures) -> Iterator:
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


def _scored_batches(client, model_dir: Path, paths: list[Path], window_s, hop_s,
                    files_per_task: int, speakers: str | int | None = None,
                    segmenter: str = "silero") -> Iterator[PredictReport]:
    """PredictReports of batches of `paths`, as they finish: on the cluster, else on this machine."""
    batches = [paths[i : i + files_per_task] for i in range(0, len(paths), files_per_task)]
    if client is None:
        recognizer = EmotionRecognizer(load_model(model_dir), model_dir, window_s=window_s, hop_s=hop_s,
                                       speakers=speakers, segmenter=segmenter)
        for batch in batches:
            yield recognize_paths(recognizer, batch)
        return
    readable = [Path(paths[0]).parent] if paths else []
    despite_lost_workers(client, lambda: check_workers(client, readable=readable), "checking the workers")
    bundle = broadcast(client, bundle_model(model_dir))
    futures = [client.submit(score_batch, bundle, [str(p) for p in batch], window_s, hop_s, speakers, segmenter,
                             pure=False)
               for batch in batches]
    yield from _gather(client, futures)


@contextmanager
def _client_or_none(scheduler: str | None):
    if scheduler is None:
        yield None
    else:
        with connect(scheduler) as client:
            yield client


def _audio_paths(sources: list[Path]) -> list[Path]:
    paths = [path for path, _ in find_audio(sources)]
    if not paths:
        raise UsageError(f"no audio files found in {', '.join(map(str, sources))}")
    return paths


def predict_on_cluster(sources: list[Path], scheduler: str, model_dir: Path | None = None,
                       window_s: float | None = None, hop_s: float | None = None,
                       files_per_task: int = FILES_PER_TASK, progress: Progress = no_progress,
                       speakers: str | int | None = None, segmenter: str = "silero") -> PredictReport:
    """`predict_files` with the scoring done by the cluster's workers; the same report."""
    paths = _audio_paths(sources)
    model_dir = resolve_model_dir(model_dir)
    results: dict[Path, object] = {}
    with connect(scheduler) as client:
        batches = _scored_batches(client, model_dir, paths, window_s, hop_s, files_per_task, speakers, segmenter)
        for _ in progress(_per_file(batches, results), len(paths), f"predicting {len(paths)} files on the cluster"):
            pass
    return assemble_report(model_dir, paths, results)


def _per_file(batches: Iterator[PredictReport], results: dict) -> Iterator[str]:
    """Records each batch's answers in `results` and yields once per file, for a progress bar over files."""
    for report in batches:
        for prediction in report.predictions:
            results[Path(prediction.source)] = prediction
            yield prediction.source
        for path, error in report.failures:
            results[Path(path)] = error
            yield path


@dataclass
class ParquetReport:
    out: Path
    model_dir: Path
    scored: int = 0  # files given a row by this run
    already_done: int = 0  # files that had a row from an earlier run, not scored again
    failures: list[tuple[str, str]] = field(default_factory=list)  # this run's failed files (rows too)


def predict_to_parquet(sources: list[Path], out: Path, model_dir: Path | None = None, scheduler: str | None = None,
                       window_s: float | None = None, hop_s: float | None = None,
                       files_per_task: int | None = None, progress: Progress = no_progress,
                       speakers: str | int | None = None, segmenter: str = "silero") -> ParquetReport:
    """Score the files under `sources` that have no row in `out` yet and add their rows there."""
    paths = _audio_paths(sources)
    model_dir = resolve_model_dir(model_dir)
    results = ParquetResults(out)
    todo = [path for path in paths if str(path) not in results.done]
    report = ParquetReport(out=Path(out), model_dir=model_dir, already_done=len(paths) - len(todo))
    if not todo:
        return report
    per_task = files_per_task or (FILES_PER_TASK if scheduler else FILE_BATCH)
    where = " on the cluster" if scheduler else ""
    with _client_or_none(scheduler) as client:
        batches = _scored_batches(client, model_dir, todo, window_s, hop_s, per_task, speakers, segmenter)
        written = _written(batches, results, report, _model_info(model_dir))
        for _ in progress(written, len(todo), f"predicting {len(todo)} files{where}"):
            pass
    return report


def _written(batches: Iterator[PredictReport], results: ParquetResults, report: ParquetReport,
             model: dict[str, str]) -> Iterator[str]:
    """Writes each batch as one part as soon as it arrives; yields once per file, for the progress bar."""
    for batch in batches:
        files = [file_row(p) for p in batch.predictions]
        files += [failure_row(path, error, model) for path, error in batch.failures]
        report.scored += results.add(files, [row for p in batch.predictions for row in segment_rows(p)],
                                     [row for p in batch.predictions for row in speaker_rows(p)])
        report.failures += batch.failures
        yield from (row["path"] for row in files)


def _model_info(model_dir: Path) -> dict[str, str]:
    """What a failed file's row says about the model: what load_model would make of it."""
    return model_info({"name": Path(model_dir).resolve().name, **read_description(model_dir)})


def render_on_cluster(sources: list[Path], out_dir: Path, settings: RenderSettings, scheduler: str,
                      force: bool = False, progress: Progress = no_progress) -> RenderReport:
    """`render_folder` with each clip rendered by a worker; the client writes the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    first = find_audio(sources)[:1]
    with connect(scheduler) as client:
        readable = [first[0][0].parent] if first else []
        despite_lost_workers(client, lambda: check_workers(client, readable=readable, writable=[out_dir]),
                             "checking the workers")

        def on_cluster(function, jobs, workers=None):
            return _gather(client, client.map(function, jobs, pure=False))

        return render_folder(sources, out_dir, settings, force=force, progress=progress, run=on_cluster)
