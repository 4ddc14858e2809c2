"""The one answer shape, and its views.

A `Recognition` (with its `Segment`s and, for conversations, `SpeakerSummary`s) is built once by
the recognizer. Every output is a view of it written here: `to_dict()` is the record that JSON,
JSON Lines, the HTTP API and Python users see; `flat_rows()` is the one flattening into rows
(a file row, speaker rows, segment rows) from which CSV and Parquet take their columns.
Probabilities stay arrays in `EMOTIONS` order until a view names them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ser_img.errors import SerImgError
from ser_img.features.spectrogram import encode_png
from ser_img.labels import EMOTIONS


def named(values: np.ndarray) -> dict[str, float]:
    """Per-class values by class name, in EMOTIONS order."""
    return {name: float(p) for name, p in zip(EMOTIONS, values)}


def top(probabilities: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The `k` likeliest classes and their probabilities, likeliest first."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[: max(0, k)]
    return [(EMOTIONS[i], float(probabilities[i])) for i in order]


def _label(probabilities: np.ndarray) -> str:
    return EMOTIONS[int(np.argmax(probabilities))]


def _scores_repr(probabilities: np.ndarray) -> str:
    return "{" + ", ".join(f"{name}: {p:.3f}" for name, p in top(probabilities, 3)) + ", ...}"


class _Scored:
    """What a segment and a speaker's summary say of their `probabilities`."""

    probabilities: np.ndarray

    @property
    def label(self) -> str:
        return _label(self.probabilities)

    @property
    def scores(self) -> dict[str, float]:
        """The probabilities by class name."""
        return named(self.probabilities)

    def top(self, k: int = 1) -> list[tuple[str, float]]:
        return top(self.probabilities, k)


@dataclass
class Segment(_Scored):
    start: float  # seconds from the start of the audio
    end: float
    probabilities: np.ndarray = field(repr=False)  # the eight classes, in EMOTIONS order
    speaker: str | None = None  # who speaks, when speakers were asked for ("S1", ..., or "left"/"right")

    def to_dict(self) -> dict:
        record = {"start": self.start, "end": self.end, "label": self.label,
                  "probabilities": named(self.probabilities)}
        if self.speaker is not None:
            record["speaker"] = self.speaker
        return record


@dataclass
class SpeakerSummary(_Scored):
    """One speaker of a conversation: overall emotion over their scored speech, and how much they spoke."""

    speaker: str  # "S1", "S2", ... in order of first speech, or "left"/"right"
    probabilities: np.ndarray = field(repr=False)  # weighted by the time each of their segments stands for
    speech_s: float = 0.0  # seconds of their turns that were scored
    share: float = 0.0  # their part of all speakers' scored time
    shares: np.ndarray = field(default=None, repr=False)  # part of their time per emotion
    turns: int = 0

    def to_dict(self) -> dict:
        return {"speaker": self.speaker, "label": self.label, "probabilities": named(self.probabilities),
                "speech_s": round(self.speech_s, 3), "share": round(self.share, 4), "shares": named(self.shares),
                "turns": self.turns}


@dataclass(repr=False)
class Recognition:
    """What the recognizer says about one recording; `to_dict()` is its one record shape."""

    source: str | None  # the file (its upload name on the server); None for an array
    probabilities: np.ndarray  # the eight classes, in EMOTIONS order (NaN when there is no judgement)
    duration_s: float
    timeline: list[Segment]  # one segment for a short clip; none when there is no judgement
    shares: np.ndarray  # part of the scored time per emotion; sums to 1
    model: dict[str, str]  # name and version
    silent_s: float = 0.0  # time skipped as silence (long audio only)
    # "emotion", or why there is no judgement: "too short" (less speech than the minimum)
    # or "no speech" (nothing above the speech level)
    outcome: str = "emotion"
    # seconds of speech found: by the voice detector for long audio and conversations, by
    # energy for a clip scored whole
    speech_s: float | None = None
    warnings: list[str] = field(default_factory=list)  # input outside what the model was measured on
    image: np.ndarray | None = None  # what the model looked at, on request
    image_window: tuple[float, float] | None = None  # the seconds of audio that image shows
    explanation: np.ndarray | None = None  # (grid, grid) importance, on request
    speakers: list[SpeakerSummary] | None = None  # per speaker, when speakers were asked for

    @property
    def label(self) -> str | None:
        """The emotion; None when there is no judgement (see `outcome`)."""
        return _label(self.probabilities) if self.judged else None

    @property
    def judged(self) -> bool:
        return self.outcome == "emotion"

    @property
    def is_timeline(self) -> bool:
        return len(self.timeline) > 1 or self.speakers is not None

    @property
    def scores(self) -> dict[str, float] | None:
        """The probabilities by class name: {"neutral": 0.01, ..., "surprised": 0.02}; None unjudged."""
        return named(self.probabilities) if self.judged else None

    @property
    def time_shares(self) -> dict[str, float] | None:
        """`shares` by class name: the part of the scored time each emotion takes; None unjudged."""
        return named(self.shares) if self.judged else None

    def top(self, k: int = 1) -> list[tuple[str, float]]:
        """The `k` likeliest classes and their probabilities, likeliest first (none unjudged)."""
        return top(self.probabilities, k) if self.judged else []

    def __repr__(self) -> str:
        answer = f"label='{self.label}', scores={_scores_repr(self.probabilities)}" if self.judged else \
            f"outcome='{self.outcome}', speech_s={self.speech_s}"
        parts = [f"source={self.source!r}", answer, f"duration_s={self.duration_s}"]
        if self.is_timeline:
            parts.append(f"segments={len(self.timeline)}")
        if self.speakers is not None:
            parts.append(f"speakers={[s.speaker for s in self.speakers]}")
        if self.warnings:
            parts.append(f"warnings={self.warnings}")
        return f"Recognition({', '.join(parts)})"

    def to_dict(self) -> dict:
        record = {"source": self.source, "label": self.label, "outcome": self.outcome,
                  "probabilities": self.scores, "duration_s": self.duration_s, "speech_s": self.speech_s,
                  "timeline": [s.to_dict() for s in self.timeline], "shares": self.time_shares,
                  "silent_s": self.silent_s, "warnings": list(self.warnings), "model": self.model,
                  "speakers": None if self.speakers is None else [s.to_dict() for s in self.speakers]}
        if self.image is not None:
            record["spectrogram_png"] = _base64_png(self.image)
            record["image_window"] = list(self.image_window)
        if self.explanation is not None:
            record["explanation"] = _explanation_record(self)
        return record


def _explanation_record(result: Recognition) -> dict:
    from ser_img.report.explain import NOISE_FLOOR, SCALE_MAX, overlay, stands_out, summary

    return {"method": "occlusion", "label": result.label, "window": list(result.image_window),
            "grid": [[round(float(x), 4) for x in row] for row in result.explanation],
            "scale": {"unit": "drop in the label's probability", "max": SCALE_MAX, "noise_floor": NOISE_FLOOR},
            "stands_out": stands_out(result.explanation), "summary": summary(result.explanation, result.label),
            "png": _base64_png(overlay(result.image, result.explanation))}


class FileAnswer(NamedTuple):
    """What `predict_files` gives for one file: its path and either the recognition or the
    error that stopped it (`ok` says which; `result` and `error` are None when not so)."""

    path: Path
    answer: Recognition | SerImgError

    @property
    def ok(self) -> bool:
        return isinstance(self.answer, Recognition)

    @property
    def result(self) -> Recognition | None:
        return self.answer if self.ok else None

    @property
    def error(self) -> SerImgError | None:
        return None if self.ok else self.answer


def unjudged(source: str | None, duration_s: float, speech_s: float, warnings: list[str],
             model: dict[str, str]) -> Recognition:
    """The answer for audio with too little speech to judge: an outcome that is not an emotion."""
    nothing = np.full(len(EMOTIONS), np.nan)
    return Recognition(source=source, probabilities=nothing, duration_s=round(float(duration_s), 3), timeline=[],
                       shares=nothing, model=model, outcome="no speech" if speech_s == 0 else "too short",
                       speech_s=speech_s, warnings=warnings)


def failure_record(source: str, error: str) -> dict:
    """The record of a file that could not be recognized, in `Recognition.to_dict()`'s shape."""
    return {"source": source, "label": None, "outcome": "error", "error": error}


def flat_rows(source: str, answer: Recognition | str, model: dict[str, str] | None = None) -> list[dict]:
    """The one flattening of an answer (or a failure's message) into rows, for CSV and Parquet:
    a "file" row (its overall answer or its error), a "speaker" row per speaker, then a
    "segment" row per segment of a timeline. Values stay numbers; views format them."""
    empty = dict.fromkeys(EMOTIONS)
    if isinstance(answer, str):
        model = model or {"name": None, "version": None}
        return [{"row": "file", "path": source, "start": None, "end": None, "label": None, **empty,
                 "duration_s": None, "model_name": model["name"], "model_version": model["version"],
                 "error": answer, "outcome": "error", "speech_s": None, "warnings": None, "speaker": None}]
    rows = [{"row": "file", "path": answer.source, "start": 0.0, "end": answer.duration_s, "label": answer.label,
             **(named(answer.probabilities) if answer.judged else empty), "duration_s": answer.duration_s,
             "model_name": answer.model["name"], "model_version": answer.model["version"], "error": None,
             "outcome": answer.outcome, "speech_s": answer.speech_s,
             "warnings": "; ".join(answer.warnings) or None, "speaker": None}]
    rows += [{"row": "speaker", "path": answer.source, "speaker": s.speaker, "label": s.label,
              **named(s.probabilities), "speech_s": s.speech_s, "share": s.share, "turns": float(s.turns),
              "outcome": "emotion"} for s in answer.speakers or []]
    if answer.is_timeline:
        rows += [{"row": "segment", "path": answer.source, "start": s.start, "end": s.end, "label": s.label,
                  **named(s.probabilities), "speaker": s.speaker, "outcome": "emotion"} for s in answer.timeline]
    return rows


def _base64_png(image: np.ndarray) -> str:
    return base64.b64encode(encode_png(image)).decode("ascii")
