"""Score a model on a labelled folder: figures, per-class report, confusion matrix."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img import metrics
from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS, clip_info
from ser_img.model import load_model
from ser_img.spectrogram import write_bytes_atomic, write_png

from . import Progress, no_progress
from .predict import predict_files, resolve_model_dir

log = logging.getLogger("ser_img")


@dataclass
class EvaluateReport:
    model_dir: Path
    report: dict
    out_dir: Path
    failures: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: int = 0


def evaluate(sources: list[Path], model_dir: Path | None = None, out_dir: Path | None = None,
             workers: int | None = None, progress: Progress = no_progress) -> EvaluateReport:
    model_dir = resolve_model_dir(model_dir)
    model = load_model(model_dir)
    result = predict_files(sources, model_dir=model_dir, model=model, workers=workers, progress=progress)
    labels = [clip_info(Path(p.source)).label for p in result.predictions]
    known = [i for i, label in enumerate(labels) if label is not None]
    if not known:
        raise UsageError(f"no labelled clips in {', '.join(map(str, sources))} (labels come from RAVDESS, "
                         "TESS, SAVEE or CREMA-D names or an emotion-named parent folder)")
    y_true = np.array([EMOTIONS.index(labels[i]) for i in known])
    y_pred = result.probabilities[known].argmax(axis=1)
    scores = metrics.report(y_true, y_pred)
    scores.update({"model": str(model_dir), "sources": [str(s) for s in sources],
                   "failures": [{"source": s, "error": e} for s, e in result.failures]})
    out_dir = Path(out_dir) if out_dir else Path("artifacts") / "evaluations" / f"{model_dir.name}--{Path(sources[0]).name or 'input'}"
    write_bytes_atomic(out_dir / "evaluation.json", (json.dumps(scores, indent=2) + "\n").encode())
    write_png(out_dir / "confusion.png", metrics.confusion_png(scores["confusion_matrix"], f"{model_dir.name}"))
    log.info("wrote %s and %s", out_dir / "evaluation.json", out_dir / "confusion.png")
    return EvaluateReport(model_dir=model_dir, report=scores, out_dir=out_dir, failures=result.failures,
                          unlabelled=len(result.predictions) - len(known))
