"""Score a model on a labelled folder: figures, per-clip answers, confusion matrix."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.report import metrics
from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS, clip_info, listed_clips
from ser_img.recognizer import EmotionRecognizer
from ser_img.features.spectrogram import write_png
from ser_img.runtime.files import write_bytes_atomic

from . import Progress, no_progress
from .predict import audio_paths, predict_files

log = logging.getLogger("ser_img")


def speaker_overlap(y_true: np.ndarray, probabilities: np.ndarray, speakers: list[str | None],
                    trained_on: list[str]) -> dict:
    """Which evaluated clips come from the model's own training speakers (`model.json`'s
    `speakers`), and the figures for those and for the others, apart: a model scores its own
    speakers far better than new voices, so only the others' figure says how it generalises."""
    known = set(trained_on)
    seen = np.array([s is not None and s in known for s in speakers], bool)
    overlap = {"training_speakers": sorted({s for s, was in zip(speakers, seen) if was}),
               "n_training_speakers_clips": int(seen.sum())}
    if seen.any():
        overlap["on_training_speakers"] = metrics.summary(y_true[seen], probabilities[seen])
        overlap["on_other_speakers"] = (metrics.summary(y_true[~seen], probabilities[~seen])
                                        if (~seen).any() else None)
    return overlap


def warning_summary(judged: list, truth: list[str]) -> dict:
    """Per kind of input warning met (`little speech`, `background noise`, ...): how many clips
    had it and how often they were right, so a figure can be read with its inputs in mind."""
    kinds: dict[str, list[bool]] = {}
    for p, label in zip(judged, truth):
        for kind in {w.split(" (")[0] for w in p.warnings}:
            kinds.setdefault(kind, []).append(p.label == label)
    return {kind: {"clips": len(right), "accuracy": sum(right) / len(right)} for kind, right in sorted(kinds.items())}


@dataclass
class EvaluateReport:
    model_dir: Path
    model_name: str  # `ravdess-corpora-stack-int8 (shipped)`, or the model's path
    report: dict
    out_dir: Path
    failures: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: int = 0


def evaluate(sources: list[Path], model_dir: Path | None = None, out_dir: Path | None = None,
             workers: int | None = None, progress: Progress = no_progress,
             recognizer: EmotionRecognizer | None = None) -> EvaluateReport:
    paths = audio_paths(sources)  # inputs and labels are checked before the model is loaded
    listed = listed_clips(sources)  # a CSV clip list gives its clips' labels
    infos = {path: clip_info(path, listed) for path in paths}
    labels = {path: info.label for path, info in infos.items()}
    labelled = [path for path in paths if labels[path] is not None]
    if not labelled:
        raise UsageError(f"no labelled clips in {', '.join(map(str, sources))} (labels come from RAVDESS, "
                         "TESS, SAVEE or CREMA-D names or an emotion-named parent folder)")
    if len(labelled) < len(paths):
        notes = Counter(infos[path].note for path in paths if labels[path] is None and infos[path].note)
        log.info("%d of %d files have no emotion label in their name or folder: left out%s",
                 len(paths) - len(labelled), len(paths), "".join(f" ({n}: {note})" for note, n in notes.items()))
    recognizer = recognizer or EmotionRecognizer.load(model_dir, workers=workers)
    result = predict_files(labelled, recognizer=recognizer, progress=progress)
    judged = [p for p in result.predictions if p.judged]
    if not judged:
        raise UsageError(f"none of the {len(labelled)} labelled files could be scored")
    truth = [labels[Path(p.source)] for p in judged]
    y_true = np.array([EMOTIONS.index(label) for label in truth])
    probabilities = np.array([p.probabilities for p in judged], np.float64)
    scores = {**metrics.report(y_true, probabilities.argmax(axis=1)), **metrics.calibration(y_true, probabilities),
              "reliability": metrics.reliability(y_true, probabilities)}
    speakers = [infos[Path(p.source)].speaker for p in judged]
    scores.update({
        "model": recognizer.model_info, "model_source": result.model_name,
        "sources": [str(s) for s in sources],
        **speaker_overlap(y_true, probabilities, speakers, recognizer.model.info.get("speakers") or []),
        "clips": [{"source": p.source, "speaker": sp, "true": t, "predicted": p.label, "correct": t == p.label,
                   "probabilities": p.to_dict()["probabilities"], "warnings": p.warnings}
                  for p, t, sp in zip(judged, truth, speakers)],
        "not_judged": [{"source": p.source, "outcome": p.outcome, "speech_s": p.speech_s}
                       for p in result.predictions if not p.judged],
        "warnings": warning_summary(judged, truth),
        "failures": [{"source": s, "error": e} for s, e in result.failures]})
    name = recognizer.model_info["name"]
    out_dir = Path(out_dir) if out_dir else Path("artifacts") / "evaluations" / f"{name}--{Path(sources[0]).name or 'input'}"
    write_bytes_atomic(out_dir / "evaluation.json", (json.dumps(scores, indent=2) + "\n").encode())
    title = f"{name}: accuracy {scores['accuracy']:.1%} on {scores['n']} clips"
    write_png(out_dir / "confusion.png", metrics.confusion_png(scores["confusion_matrix"], title))
    write_png(out_dir / "reliability.png", metrics.reliability_png(y_true, probabilities, f"{name}: reliability"))
    log.info("wrote %s, %s and %s", out_dir / "evaluation.json", out_dir / "confusion.png",
             out_dir / "reliability.png")
    return EvaluateReport(model_dir=result.model_dir, model_name=result.model_name, report=scores, out_dir=out_dir,
                          failures=result.failures, unlabelled=len(paths) - len(labelled))
