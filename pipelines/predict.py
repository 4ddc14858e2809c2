"""Predict emotions for audio files: find them, then let the recognizer do the rest.

Batching, decoding on worker processes and the short/long decision all live in
`EmotionRecognizer.predict_files`; this job only finds the files (before any model is
loaded, so a wrong path fails fast) and sorts answers from failures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.audio.decode import is_stream
from ser_img.errors import UsageError
from ser_img.corpus.files import find_audio
from ser_img.labels import EMOTIONS
from ser_img.records import Recognition, failure_record
from ser_img.options import RecognizerOptions
from ser_img.recognizer import EmotionRecognizer, describe_model_dir
from ser_img.conversation.speakers import channels_error
from ser_img.audio.stream import channel_count

from . import Progress, no_progress

__all__ = ["PredictReport", "answer_record", "assemble_report", "audio_paths", "iter_answers", "open_recognizer",
           "predict_files", "recognize_paths"]
log = logging.getLogger("ser_img")


@dataclass
class PredictReport:
    model_dir: Path
    answers: list[tuple[str, Recognition | str]] = field(default_factory=list)  # per file, in order: answer or error

    @property
    def predictions(self) -> list[Recognition]:
        return [answer for _, answer in self.answers if isinstance(answer, Recognition)]

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(source, answer) for source, answer in self.answers if isinstance(answer, str)]

    def records(self) -> list[dict]:
        """One record per file, in order: `Recognition.to_dict()`, or the failure's record."""
        return [answer_record(source, answer) for source, answer in self.answers]

    @property
    def model_name(self) -> str:
        """The model as people should read it: `ravdess-corpora-stack-int8 (shipped)`, or its path."""
        return describe_model_dir(self.model_dir)

    @property
    def probabilities(self) -> np.ndarray:
        """(n, 8), rows in the order of `predictions`."""
        return np.array([p.probabilities for p in self.predictions], np.float64).reshape(-1, len(EMOTIONS))


def answer_record(source: str, answer: Recognition | str) -> dict:
    """A file's JSON record: `Recognition.to_dict()`, or its failure's record (answer is the error)."""
    return answer.to_dict() if isinstance(answer, Recognition) else failure_record(source, answer)


def audio_paths(sources: list[Path]) -> list[Path]:
    """The audio files under `sources` (`corpus.files.find_audio`), or a usage error when there
    are none, or when none of them exists (checked before any model loads or any cluster is
    reached). One missing file among others is not an error here: it becomes that file's failure.
    A file named more than once is answered once, with a warning saying so.
    Every job that predicts on files (local, cluster, Parquet, evaluate) finds them here."""
    repeated: list[Path] = []
    paths = [path for path, _ in find_audio(sources, repeated)]
    if repeated:
        unique = list(dict.fromkeys(repeated))  # a file named three times is one file named more than once
        log.warning("warning: %d file(s) named more than once, answered once: %s", len(unique),
                    ", ".join(map(str, unique)))
    if not paths:
        raise UsageError(f"no audio files found in {', '.join(map(str, sources))}")
    if not any(path.exists() or is_stream(path) for path in paths):  # before any model is loaded
        raise UsageError(f"{paths[0]}: no such file" if len(paths) == 1 else
                         f"none of {', '.join(map(str, paths))} exists")
    return paths


def predict_files(sources: list[Path], model_dir: Path | None = None, recognizer: EmotionRecognizer | None = None,
                  options: RecognizerOptions | None = None, progress: Progress = no_progress, image: bool = False,
                  explain: bool = False) -> PredictReport:
    """Predict every audio file under `sources` (with `recognizer`, or the model at `model_dir`
    under `options`); unreadable files are listed, not fatal."""
    paths, recognizer = open_recognizer(sources, model_dir, recognizer, options)
    return recognize_paths(recognizer, paths, image=image, explain=explain, progress=progress)


def open_recognizer(sources: list[Path], model_dir: Path | None = None, recognizer: EmotionRecognizer | None = None,
                    options: RecognizerOptions | None = None) -> tuple[list[Path], EmotionRecognizer]:
    """The audio files under `sources` (checked first, so a wrong path fails before the model
    loads) and the recognizer; a warning when the model was trained on synthetic audio."""
    paths = audio_paths(sources)
    wanted = options or (recognizer.options if recognizer is not None else RecognizerOptions())
    if wanted.speakers == "channels":
        _check_two_channels(paths)
    if recognizer is None:
        recognizer = EmotionRecognizer.load(model_dir, wanted)
    if recognizer.trained_on_synthetic_audio:
        log.warning("warning: %s was trained on SYNTHETIC audio (the demo's): its answers on real speech "
                    "mean nothing", describe_model_dir(recognizer.model_dir))
    return paths, recognizer


def _check_two_channels(paths: list[Path]) -> None:
    """`--speakers channels` splits a recording by channel: a file with another count is a usage error."""
    for path in paths:
        count = None if is_stream(path) else channel_count(path)
        if count is not None and count != 2:
            raise channels_error(path, count)


def iter_answers(recognizer: EmotionRecognizer, paths: list[Path], chunk: int = 64,
                 **options) -> Iterator[tuple[str, Recognition | str]]:
    """(path, answer or the error's one line) in the order given, `chunk` files at a time, so
    answers for a big folder can be written out as they come."""
    for start in range(0, len(paths), chunk):
        yield from recognize_paths(recognizer, paths[start : start + chunk], **options).answers


def recognize_paths(recognizer: EmotionRecognizer, paths: list[Path], **options) -> PredictReport:
    """The recognizer's answers for `paths` (files that exist or not), failures in place."""
    report = PredictReport(model_dir=recognizer.model_dir)
    for path, answer in recognizer.predict_files(paths, **options):
        report.answers.append((str(path), answer if isinstance(answer, Recognition) else str(answer)))
    return report


def assemble_report(model_dir: Path, paths: list[Path], results: dict) -> PredictReport:
    """The report in `paths` order from {path: Recognition, or the error for a failed file}."""
    return PredictReport(model_dir=model_dir, answers=[(str(path), results[path]) for path in paths])


def write_explanations(predictions: list[Recognition], out_dir: Path) -> list[Path]:
    """Each explained recognition's map drawn over its image, as OUT_DIR/NAME.png."""
    from ser_img.report.explain import overlay
    from ser_img.features.spectrogram import write_png

    written, taken = [], set()
    for p in predictions:
        if p.explanation is None:
            continue
        stem = Path(p.source or "audio").stem
        name, n = f"{stem}.png", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}.png"
        taken.add(name)
        write_png(Path(out_dir) / name, overlay(p.image, p.explanation))
        written.append(Path(out_dir) / name)
    return written
