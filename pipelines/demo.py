"""The built-in default: a synthetic corpus rendered, trained on, evaluated and predicted.

The audio is SYNTHETIC (see ser_img.synth): the demo shows the tool working end to end
without a download; its figures say nothing about real speech.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ser_img.settings import TrainSettings
from ser_img.synth import generate_corpus

from . import Progress, no_progress
from .evaluate import EvaluateReport, evaluate
from .predict import PredictReport, predict_files
from .render import RenderReport, render_folder
from .train import TrainReport, train

log = logging.getLogger("ser_img")


@dataclass
class DemoReport:
    render: RenderReport
    train: TrainReport
    evaluation: EvaluateReport
    predictions: PredictReport


def run_demo(workdir: Path = Path("data/demo"), model_dir: Path = Path("data/demo/model"),
             train_speakers: int = 6, heldout_speakers: int = 2, settings: TrainSettings = TrainSettings(),
             progress: Progress = no_progress) -> DemoReport:
    """Synthetic speakers 1..train_speakers train the model; the next ones are held out."""
    train_audio, heldout_audio = workdir / "audio" / "train", workdir / "audio" / "heldout"
    log.info("writing a synthetic corpus (%d + %d speakers) under %s", train_speakers, heldout_speakers,
             workdir / "audio")
    generate_corpus(train_audio, range(1, train_speakers + 1), repetitions=(1, 2))
    heldout = generate_corpus(heldout_audio, range(train_speakers + 1, train_speakers + heldout_speakers + 1))
    rendered = render_folder([train_audio], workdir / "images", progress=progress)
    trained = train(workdir / "images", "stack", model_dir, settings=settings, force=True, progress=progress)
    evaluation = evaluate([heldout_audio], model_dir, out_dir=workdir / "evaluation", progress=progress)
    predictions = predict_files(heldout[:: max(1, len(heldout) // 4)][:4], model_dir)
    return DemoReport(rendered, trained, evaluation, predictions)
