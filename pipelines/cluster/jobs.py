"""The cluster's jobs: `predict` and `render` with the work done by Dask's workers, and
`predict --out` into a resumable Parquet dataset (on the cluster, or on this machine).

The client finds the files and submits batches of paths; the workers score them
(`worker.score_batch`) and only the client writes results, one Parquet part per finished
batch (`parquet.ParquetResults`), so a task that Dask runs again after a worker died can
never add a second row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ser_img.corpus.files import find_audio
from ser_img.store.load import load_model
from ser_img.store.manifest import read_description
from ser_img.features.spectrogram import RenderSettings
from ser_img.options import RecognizerOptions
from ser_img.recognizer import EmotionRecognizer, model_info, resolve_model_dir
from ser_img.scoring.files import FILE_BATCH

from pipelines import Progress, no_progress
from pipelines.predict import PredictReport, assemble_report, audio_paths, recognize_paths
from pipelines.render import RenderReport, render_folder

from .client import broadcast, check_workers, client_or_none, connect, despite_lost_workers, gather
from .parquet import ParquetResults, failure_row, file_row, segment_rows, speaker_rows
from .worker import bundle_model, score_batch

FILES_PER_TASK = 64  # files a worker scores per task: small enough to spread, big enough to batch


def _scored_batches(client, model_dir: Path, paths: list[Path], options: RecognizerOptions,
                    files_per_task: int) -> Iterator[PredictReport]:
    """PredictReports of batches of `paths`, as they finish: on the cluster, else on this machine."""
    batches = [paths[i : i + files_per_task] for i in range(0, len(paths), files_per_task)]
    if client is None:
        recognizer = EmotionRecognizer(load_model(model_dir), model_dir, options)
        for batch in batches:
            yield recognize_paths(recognizer, batch)
        return
    readable = [Path(paths[0]).parent] if paths else []
    despite_lost_workers(client, lambda: check_workers(client, readable=readable), "checking the workers")
    bundle = broadcast(client, bundle_model(model_dir))
    futures = [client.submit(score_batch, bundle, [str(p) for p in batch], options, pure=False)
               for batch in batches]
    yield from gather(client, futures)


def predict_on_cluster(sources: list[Path], scheduler: str, model_dir: Path | None = None,
                       options: RecognizerOptions = RecognizerOptions(), files_per_task: int = FILES_PER_TASK,
                       progress: Progress = no_progress) -> PredictReport:
    """`predict_files` with the scoring done by the cluster's workers; the same report."""
    paths = audio_paths(sources)
    model_dir = resolve_model_dir(model_dir)
    results: dict[Path, object] = {}
    with connect(scheduler) as client:
        batches = _scored_batches(client, model_dir, paths, options, files_per_task)
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
                       options: RecognizerOptions = RecognizerOptions(), files_per_task: int | None = None,
                       progress: Progress = no_progress) -> ParquetReport:
    """Score the files under `sources` that have no row in `out` yet and add their rows there."""
    paths = audio_paths(sources)
    model_dir = resolve_model_dir(model_dir)
    results = ParquetResults(out)
    todo = [path for path in paths if str(path) not in results.done]
    report = ParquetReport(out=Path(out), model_dir=model_dir, already_done=len(paths) - len(todo))
    if not todo:
        return report
    per_task = files_per_task or (FILES_PER_TASK if scheduler else FILE_BATCH)
    where = " on the cluster" if scheduler else ""
    with client_or_none(scheduler) as client:
        batches = _scored_batches(client, model_dir, todo, options, per_task)
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
    """`render_folder` with each group of clips (`render.RENDER_GROUP`) rendered by a worker; the
    client writes the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    first = find_audio(sources)[:1]
    with connect(scheduler) as client:
        readable = [first[0][0].parent] if first else []
        despite_lost_workers(client, lambda: check_workers(client, readable=readable, writable=[out_dir]),
                             "checking the workers")

        def on_cluster(function, jobs, workers=None):
            return gather(client, client.map(function, jobs, pure=False))

        return render_folder(sources, out_dir, settings, force=force, progress=progress, run=on_cluster)
