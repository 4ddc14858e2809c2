"""Score a model on a labelled folder: figures, per-clip answers, confusion matrix."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img import metrics
from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS, clip_info, listed_clips
from ser_img.recognizer import EmotionRecognizer
from ser_img.spectrogram import write_bytes_atomic, write_png

from . import Progress, no_progress
from .predict import audio_paths, predict_files

log = logging.getLogger("ser_img")


@dataclass
class EvaluateReport:
    model_dir: Path
    model_name: str  # `ravdess-stack (shipped)`, or the model's path
    report: dict
    out_dir: Path
    failures: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: int = 0


def evaluate(sources: list[Path], model_dir: Path | None = None, out_dir: Path | None = None,
             workers: int | None = None, progress: Progress = no_progress,
             recognizer: EmotionRecognizer | None = None) -> EvaluateReport:
    paths = audio_paths(sources)  # inputs and labels are checked before the model is loaded
    listed = listed_clips(sources)  # a CSV clip list gives its clips' labels
    labels = {path: clip_info(path, listed).label for path in paths}
    labelled = [path for path in paths if labels[path] is not None]
    if not labelled:
        raise UsageError(f"no labelled clips in {', '.join(map(str, sources))} (labels come from RAVDESS, "
                         "TESS, SAVEE or CREMA-D names or an emotion-named parent folder)")
    if len(labelled) < len(paths):
        log.info("%d of %d files have no emotion label in their name or folder: left out",
                 len(paths) - len(labelled), len(paths))
    recognizer = recognizer or EmotionRecognizer.load(model_dir, workers=workers)
    result = predict_files(labelled, recognizer=recognizer, progress=progress)
    if not result.predictions:
        raise UsageError(f"none of the {len(labelled)} labelled files could be scored")
    truth = [labels[Path(p.source)] for p in result.predictions]
    y_true = np.array([EMOTIONS.index(label) for label in truth])
    y_pred = result.probabilities.argmax(axis=1)
    scores = metrics.report(y_true, y_pred)
    scores.update({
        "model": recognizer.model_info, "model_source": result.model_name,
        "sources": [str(s) for s in sources],
        "clips": [{"source": p.source, "true": t, "predicted": p.label, "correct": t == p.label,
                   "probabilities": p.to_dict()["probabilities"]} for p, t in zip(result.predictions, truth)],
        "failures": [{"source": s, "error": e} for s, e in result.failures]})
    name = recognizer.model_info["name"]
    out_dir = Path(out_dir) if out_dir else Path("artifacts") / "evaluations" / f"{name}--{Path(sources[0]).name or 'input'}"
    write_bytes_atomic(out_dir / "evaluation.json", (json.dumps(scores, indent=2) + "\n").encode())
    title = f"{name}: accuracy {scores['accuracy']:.1%} on {scores['n']} clips"
    write_png(out_dir / "confusion.png", metrics.confusion_png(scores["confusion_matrix"], title))
    log.info("wrote %s and %s", out_dir / "evaluation.json", out_dir / "confusion.png")
    return EvaluateReport(model_dir=result.model_dir, model_name=result.model_name, report=scores, out_dir=out_dir,
                          failures=result.failures, unlabelled=len(paths) - len(labelled))
