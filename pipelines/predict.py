"""Predict emotions for audio files with a saved model, rendering exactly as in training."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.audio import load_audio
from ser_img.errors import ModelError, SerImgError, UsageError
from ser_img.files import find_audio
from ser_img.labels import EMOTIONS
from ser_img.model import EmotionModel, find_default_model, load_model
from ser_img.spectrogram import RenderSettings, render_inputs

from . import Progress, no_progress
from .render import run_parallel

log = logging.getLogger("ser_img")
BATCH = 256  # clips rendered and scored at a time, so memory stays flat on big folders


@dataclass
class Prediction:
    source: str
    label: str
    probabilities: dict[str, float]


@dataclass
class PredictReport:
    model_dir: Path
    predictions: list[Prediction] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    probabilities: np.ndarray | None = None  # (n, 8), rows in the order of `predictions`


def resolve_model_dir(model_dir: Path | None) -> Path:
    if model_dir is not None:
        return Path(model_dir)
    found = find_default_model()
    if found is None:
        raise ModelError("no model found: pass --model DIR, or train one with 'ser-img train' "
                         "(models are looked for under ./artifacts)")
    return found


def _render_file(job: tuple[Path, RenderSettings]) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """(image, descriptors) of one file, or None and the reason it failed."""
    path, settings = job
    try:
        return render_inputs(load_audio(path, settings.sample_rate).samples, settings), ""
    except SerImgError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def predict_files(sources: list[Path], model_dir: Path | None = None, model: EmotionModel | None = None,
                  workers: int | None = None, progress: Progress = no_progress) -> PredictReport:
    """Predict every audio file under `sources`; unreadable files are listed, not fatal."""
    paths = [path for path, _ in find_audio(sources)]
    if not paths:
        raise UsageError(f"no audio files found in {', '.join(map(str, sources))}")
    model_dir = resolve_model_dir(model_dir) if model is None else Path(model_dir or model.name)
    model = model or load_model(model_dir)
    report = PredictReport(model_dir=model_dir)
    scored = []
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    for batch in progress(batches, len(batches), f"predicting {len(paths)} files"):
        jobs = [(path, model.render_settings) for path in batch]
        rendered = list(run_parallel(_render_file, jobs, workers if len(batch) > 8 else 1))
        ok = [(path, inputs) for path, (inputs, _) in zip(batch, rendered) if inputs is not None]
        report.failures += [(str(path), error) for path, (inputs, error) in zip(batch, rendered) if inputs is None]
        if not ok:
            continue
        probabilities = model.predict_proba(np.stack([image for _, (image, _) in ok]),
                                            np.stack([values for _, (_, values) in ok]))
        scored.append(probabilities)
        for (path, _), row in zip(ok, probabilities):
            report.predictions.append(Prediction(
                source=str(path), label=EMOTIONS[int(row.argmax())],
                probabilities={name: float(p) for name, p in zip(EMOTIONS, row)}))
    report.probabilities = np.concatenate(scored) if scored else np.zeros((0, len(EMOTIONS)))
    return report
