"""The built-in default: the shipped model on real example clips, then a synthetic corpus
rendered, trained on, evaluated and predicted.

The examples are eight RAVDESS clips kept in the package (ser_img/examples, with their
CC BY-NC-SA attribution). The corpus is SYNTHETIC (see ser_img.corpus.synth): it shows training
working end to end without a download; its figures say nothing about real speech.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import ser_img
from ser_img.labels import EMOTIONS, clip_info
from ser_img.store.load import PACKAGED_MODEL
from ser_img.recognizer import EmotionRecognizer, Recognition, describe_model_dir
from ser_img.ensemble.settings import TrainSettings
from ser_img.corpus.synth import generate_corpus

from . import Progress, no_progress
from .evaluate import EvaluateReport, evaluate
from .predict import PredictReport, predict_files
from .render import RenderReport, render_folder
from .train import TrainReport, train

log = logging.getLogger("ser_img")
EXAMPLES = Path(ser_img.__file__).parent / "examples"  # package data: `pip install .` has them
ATTRIBUTION = ("RAVDESS, Livingstone & Russo 2018, https://zenodo.org/records/1188976, CC BY-NC-SA 4.0; "
               "re-encoded to 16 kHz (ser_img/examples/README.md)")


@dataclass
class ExamplesReport:
    model_name: str
    rows: list[tuple[str, str, Recognition]]  # file name, true label, the recognition
    attribution: str
    note: str  # whether the model heard these speakers in training

    @property
    def correct(self) -> int:
        return sum(truth == r.label for _, truth, r in self.rows)


def run_examples(examples: Path = EXAMPLES, model_dir: Path = PACKAGED_MODEL) -> ExamplesReport:
    """The shipped model on the packaged RAVDESS clips: truth, prediction, probabilities."""
    recognizer = EmotionRecognizer.load(model_dir)
    paths = sorted(examples.glob("*.flac"), key=lambda p: EMOTIONS.index(clip_info(p).label))
    rows = []
    for path, answer in recognizer.predict_files(paths):
        if isinstance(answer, Recognition):
            rows.append((path.name, clip_info(path).label, answer))
    heard = set(recognizer.model.info.get("speakers", []))
    speakers = {clip_info(Path(name)).speaker for name, _, _ in rows}
    note = ("these speakers were in the shipped model's training data, so this shows the tool working on real "
            "speech, not its accuracy on new voices (that is the cross-validated figure in its model card)"
            if speakers & heard else "the shipped model never heard these speakers in training")
    return ExamplesReport(describe_model_dir(model_dir), rows, ATTRIBUTION, note)


@dataclass
class DemoReport:
    render: RenderReport
    train: TrainReport
    evaluation: EvaluateReport
    predictions: PredictReport


def run_demo(workdir: Path = Path("data/demo"), model_dir: Path | None = None,
             train_speakers: int = 6, heldout_speakers: int = 2, settings: TrainSettings = TrainSettings(),
             progress: Progress = no_progress) -> DemoReport:
    """Synthetic speakers 1..train_speakers train the model; the next ones are held out."""
    model_dir = model_dir if model_dir is not None else workdir / "model"
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
