"""Scored windows gathered into a timeline: when, what, how much time each stands for, whose,
and the overall answer they add up to."""

from __future__ import annotations

import numpy as np

from ser_img.speech.quality import measure, warnings_for
from ser_img.labels import EMOTIONS
from ser_img.records import Recognition, Segment, SpeakerSummary, unjudged


class Tally:
    """Scored windows of a timeline as they come: when, what, how much time each stands for,
    whose, the input warnings each had, and per class its most typical window's inputs."""

    def __init__(self, rate: int, keep_images: bool):
        self.rate, self.keep_images = rate, keep_images
        self.starts, self.ends, self.rows, self.weights, self.speakers = [], [], [], [], []
        self.warned: dict[str, list[str]] = {}  # kind of warning -> its text for each window that had it
        self.shown: dict[int, tuple] = {}  # per class: (probability, prepared, (start, end) s)

    def add(self, windows: list, scored: list[tuple], weights: list[float], whose: list | None = None) -> None:
        """Windows (with .start, .end in samples and .samples), their (probabilities, inputs),
        the seconds each stands for, and whose each is."""
        rate = self.rate
        for i, (w, (row, inputs)) in enumerate(zip(windows, scored)):
            for text in warnings_for(measure(w.samples, rate)):
                self.warned.setdefault(text.split(" (")[0], []).append(text)
            self.starts.append(w.start / rate)
            self.ends.append(w.end / rate)
            self.rows.append(row)
            self.weights.append(weights[i])
            self.speakers.append(None if whose is None else whose[i])
            best = int(row.argmax())
            if self.keep_images and row[best] > self.shown.get(best, (-1.0,))[0]:
                self.shown[best] = (row[best], inputs, (round(w.start / rate, 3), round(w.end / rate, 3)))

    def sort(self) -> None:
        """In order of time (a two-channel conversation is scored one channel after the other)."""
        order = sorted(range(len(self.starts)), key=lambda i: (self.starts[i], self.speakers[i]))
        for name in ("starts", "ends", "rows", "weights", "speakers"):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in order])

    def common_warnings(self) -> list[str]:
        """A warning most of the scored windows share is the recording's."""
        return [texts[0] for texts in self.warned.values() if len(texts) * 2 >= len(self.rows)]

    def shown_for(self, label: int) -> tuple:
        """(inputs, (start, end) s) of the window most typical of `label` (else of any label)."""
        _, inputs, where = self.shown.get(label) or max(self.shown.values(), key=lambda x: x[0])
        return inputs, where


def timeline_result(tally: Tally, speech_s: float, audio_s: float, duration_s: float, source: str | None,
                    model: dict[str, str], names: list[str] | None = None) -> Recognition:
    """The answer a timeline adds up to; `names` names the tally's speaker numbers. With no
    window to judge, the outcome says why: "no speech" (the segmenter found none) or "too short"."""
    if not tally.rows:
        return unjudged(source, duration_s, round(speech_s, 3), [], model)
    probs, weight = np.array(tally.rows), np.array(tally.weights)
    overall, shares = weighted(probs, weight)
    whose = [None] * len(probs) if names is None else [names[k] for k in tally.speakers]
    result = Recognition(
        source=source, probabilities=overall, duration_s=round(float(duration_s), 3),
        timeline=[Segment(round(s, 3), round(e, 3), r, n) for s, e, r, n in
                  zip(tally.starts, tally.ends, tally.rows, whose)],
        shares=shares, model=model, silent_s=round(max(0.0, audio_s - weight.sum()), 3),
        speech_s=round(speech_s, 3), warnings=tally.common_warnings())
    if names is not None:
        result.speakers = speaker_summaries(tally, names)
    return result


def weighted(probs: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overall probabilities and the part of the time each emotion takes, over weighted segments."""
    overall = (probs * weight[:, None]).sum(axis=0) / weight.sum()
    shares = np.bincount(probs.argmax(axis=1), weights=weight, minlength=len(EMOTIONS)) / weight.sum()
    return overall, shares


def speaker_summaries(tally: Tally, names: list[str]) -> list[SpeakerSummary]:
    probs, weight, who = np.array(tally.rows), np.array(tally.weights), np.array(tally.speakers)
    total = weight.sum()
    summaries = []
    for k, name in enumerate(names):
        mine = who == k
        if not mine.any():
            continue  # a voice found, but none of its turns had enough speech to judge
        overall, shares = weighted(probs[mine], weight[mine])
        turns = int(np.sum(np.diff(np.concatenate([[0], mine.astype(np.int8)])) == 1))
        summaries.append(SpeakerSummary(name, overall, float(weight[mine].sum()), float(weight[mine].sum() / total),
                                        shares, turns))
    return summaries


def clock(seconds: float) -> str:
    """0:07, 12:34 or 1:02:03."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"
