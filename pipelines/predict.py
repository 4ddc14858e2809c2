"""Predict emotions for audio files with a saved model, through the shared recognizer.

Short clips are decoded in parallel and scored in batches; long recordings are read in
blocks and scored as a timeline. Both go through `EmotionRecognizer`, the code path the
server and the Python API use too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.audio import load_audio
from ser_img.errors import SerImgError, UsageError
from ser_img.files import find_audio
from ser_img.labels import EMOTIONS
from ser_img.model import EmotionModel, load_model
from ser_img.features import render_inputs
from ser_img.spectrogram import RenderSettings
from ser_img.recognizer import EmotionRecognizer, Recognition, resolve_model_dir
from ser_img.stream import audio_duration

from . import Progress, no_progress
from .render import run_parallel

log = logging.getLogger("ser_img")
BATCH = 256  # short clips decoded and scored at a time, so memory stays flat on big folders

__all__ = ["PredictReport", "Prediction", "assemble_report", "predict_files", "resolve_model_dir"]
Prediction = Recognition  # one file's answer: `source`, `label`, `probabilities`, `timeline`, ...


@dataclass
class PredictReport:
    model_dir: Path
    predictions: list[Recognition] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    probabilities: np.ndarray | None = None  # (n, 8), rows in the order of `predictions`


def _load_file(job: tuple[Path, RenderSettings]) -> tuple[tuple | None, float, str]:
    """Decode and prepare one clip in a worker: (model inputs, duration, error)."""
    path, settings = job
    try:
        audio = load_audio(path, settings.sample_rate)
        return render_inputs(audio.samples, settings), audio.duration_s, ""
    except SerImgError as exc:
        return None, 0.0, str(exc)
    except OSError as exc:
        return None, 0.0, f"{path}: {exc.strerror or exc}"


def predict_files(sources: list[Path], model_dir: Path | None = None, model: EmotionModel | None = None,
                  workers: int | None = None, progress: Progress = no_progress, window_s: float | None = None,
                  hop_s: float | None = None) -> PredictReport:
    """Predict every audio file under `sources`; unreadable files are listed, not fatal."""
    paths = [path for path, _ in find_audio(sources)]
    if not paths:
        raise UsageError(f"no audio files found in {', '.join(map(str, sources))}")
    model_dir = resolve_model_dir(model_dir) if model is None else Path(model_dir or model.name)
    recognizer = EmotionRecognizer(model or load_model(model_dir), model_dir, window_s=window_s, hop_s=hop_s)
    durations = {path: audio_duration(path) for path in paths}
    is_long = {path: durations[path] is not None and recognizer.is_long(durations[path]) for path in paths}
    long, short = [p for p in paths if is_long[p]], [p for p in paths if not is_long[p]]
    results: dict[Path, Recognition | str] = {}
    batches = [short[i : i + BATCH] for i in range(0, len(short), BATCH)]
    for batch in progress(batches, len(batches), f"predicting {len(short)} clips"):
        jobs = [(path, recognizer.model.render_settings) for path in batch]
        loaded = list(run_parallel(_load_file, jobs, workers if len(batch) > 8 else 1))
        results.update((path, error) for path, (inputs, _, error) in zip(batch, loaded) if inputs is None)
        ok = [(path, inputs, duration) for path, (inputs, duration, _) in zip(batch, loaded) if inputs is not None]
        if ok:
            done, prepared, seconds = (list(column) for column in zip(*ok))
            results.update(zip(done, recognizer.predict_prepared(prepared, seconds, [str(p) for p in done])))
    for path in progress(long, len(long), f"predicting {len(long)} long recordings"):
        try:
            results[path] = recognizer.predict_long(path, durations[path])
        except SerImgError as exc:
            results[path] = str(exc)
    return assemble_report(model_dir, paths, results)


def assemble_report(model_dir: Path, paths: list, results: dict) -> PredictReport:
    """The report in `paths` order from {path: Recognition, or the error for a failed file}."""
    report = PredictReport(model_dir=model_dir)
    for path in paths:
        result = results[path]
        if isinstance(result, str):
            report.failures.append((str(path), result))
        else:
            report.predictions.append(result)
    rows = [[p.probabilities[e] for e in EMOTIONS] for p in report.predictions]
    report.probabilities = np.array(rows, dtype=np.float64).reshape(-1, len(EMOTIONS))
    return report
