"""Diarization error rate: who spoke when, scored against a reference.

The usual definition (NIST RT's md-eval, pyannote.metrics' `DiarizationErrorRate`):

    DER = (missed speech + false alarm + speaker confusion) / scored reference speech

Reference and hypothesis are lists of (start, end, speaker) in seconds. The reference may
overlap (two people at once); overlapped speech counts once per speaker in it. A collar of
`collar` seconds on each side of every reference segment's start and end is left out of the
scoring (md-eval's `-c 0.25`, which is pyannote's `collar=0.5`: pyannote's collar is the total
width, half before and half after). Hypothesis speakers are mapped one-to-one onto reference
speakers so that the time they share is largest (Hungarian algorithm, on the scored region);
at each instant, with n_ref reference and n_hyp hypothesis speakers talking and n_correct of
the hypothesis speakers mapped onto one that talks:

    missed = max(0, n_ref - n_hyp), false alarm = max(0, n_hyp - n_ref),
    confusion = min(n_ref, n_hyp) - n_correct

The timeline is cut at every boundary of either side and of the collars, so the durations are
exact, not sampled on a grid. The figures agree with pyannote.metrics 4.2.0 (its
`DiarizationErrorRate(collar=2 * collar)`) to 1e-12 on 4,000 random overlapping cases
(tests/test_der.py says how that was checked). One difference on purpose: a speaker's own
overlapping segments are merged first (pyannote would count that speaker twice there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

Turn = tuple[float, float, str]  # (start, end, speaker), seconds

COLLAR_S = 0.25  # each side of a reference boundary, as md-eval's -c 0.25


@dataclass(frozen=True)
class DiarizationError:
    """The parts of the error, in seconds of scored reference speech, and the rate."""

    missed: float
    false_alarm: float
    confusion: float
    total: float  # scored reference speech (overlap counted once per speaker)
    mapping: dict[str, str]  # hypothesis speaker -> reference speaker

    @property
    def rate(self) -> float:
        """(missed + false alarm + confusion) / total; with no reference speech, 1 for any error, else 0
        (as pyannote.metrics)."""
        error = self.missed + self.false_alarm + self.confusion
        if self.total > 0:
            return error / self.total
        return 1.0 if error > 0 else 0.0

    def to_dict(self) -> dict:
        return {"der": self.rate, "missed_s": self.missed, "false_alarm_s": self.false_alarm,
                "confusion_s": self.confusion, "scored_s": self.total, "mapping": dict(self.mapping)}


def merge_turns(turns: Iterable[Turn]) -> list[Turn]:
    """Each speaker's speech as non-overlapping segments, overlapping or touching ones joined."""
    by_speaker: dict[str, list[tuple[float, float]]] = {}
    for start, end, speaker in turns:
        if end > start:
            by_speaker.setdefault(speaker, []).append((float(start), float(end)))
    merged: list[Turn] = []
    for speaker, spans in by_speaker.items():
        spans.sort()
        current_start, current_end = spans[0]
        for start, end in spans[1:]:
            if start <= current_end:
                current_end = max(current_end, end)
            else:
                merged.append((current_start, current_end, speaker))
                current_start, current_end = start, end
        merged.append((current_start, current_end, speaker))
    return sorted(merged)


def diarization_error(reference: Sequence[Turn], hypothesis: Sequence[Turn],
                      collar: float = COLLAR_S) -> DiarizationError:
    """The DER of `hypothesis` against `reference` (see the module's docstring)."""
    edges = [t for start, end, _ in reference for t in (start, end) if end > start]  # collars: as given
    reference, hypothesis = merge_turns(reference), merge_turns(hypothesis)
    cuts = _cuts(reference + hypothesis, edges, collar)
    middles, lengths = (cuts[:-1] + cuts[1:]) / 2, np.diff(cuts)
    weights = lengths * _scored(middles, edges, collar)
    ref_speakers, ref_active = _activity(reference, middles)
    hyp_speakers, hyp_active = _activity(hypothesis, middles)
    mapping = _mapping(ref_speakers, ref_active, hyp_speakers, hyp_active, weights)
    n_ref, n_hyp = ref_active.sum(axis=0), hyp_active.sum(axis=0)
    correct = np.zeros_like(n_ref)
    for h, r in mapping.items():
        correct += hyp_active[h] & ref_active[r]
    return DiarizationError(
        missed=float(np.sum(weights * np.maximum(0, n_ref - n_hyp))),
        false_alarm=float(np.sum(weights * np.maximum(0, n_hyp - n_ref))),
        confusion=float(np.sum(weights * (np.minimum(n_ref, n_hyp) - correct))),
        total=float(np.sum(weights * n_ref)),
        mapping={hyp_speakers[h]: ref_speakers[r] for h, r in mapping.items()})


def _cuts(turns: list[Turn], edges: list[float], collar: float) -> np.ndarray:
    """Every time at which anything changes: segment ends of either side and collar edges."""
    points = [t for start, end, _ in turns for t in (start, end)]
    points += [t + d for t in edges for d in (-collar, collar)]
    return np.unique(np.array(points, dtype=float)) if points else np.zeros(1)


def _scored(times: np.ndarray, edges: list[float], collar: float) -> np.ndarray:
    """1 where a time is outside every collar around the reference's boundaries, else 0."""
    keep = np.ones(len(times))
    if collar > 0:
        for edge in edges:
            keep[np.abs(times - edge) < collar] = 0
    return keep


def _activity(turns: list[Turn], times: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The speakers (sorted) and a (speakers, times) int matrix: 1 where each is talking."""
    speakers = sorted({speaker for _, _, speaker in turns})
    index = {speaker: i for i, speaker in enumerate(speakers)}
    active = np.zeros((len(speakers), len(times)), dtype=np.int64)
    for start, end, speaker in turns:
        active[index[speaker], (times > start) & (times < end)] = 1
    return speakers, active


def _mapping(ref_speakers: list[str], ref_active: np.ndarray, hyp_speakers: list[str],
             hyp_active: np.ndarray, weights: np.ndarray) -> dict[int, int]:
    """Hypothesis index -> reference index, one-to-one, most shared scored time."""
    if not ref_speakers or not hyp_speakers:
        return {}
    shared = (hyp_active * weights) @ ref_active.T  # (hyp, ref) seconds talking together
    rows, cols = linear_sum_assignment(shared, maximize=True)
    return {int(h): int(r) for h, r in zip(rows, cols) if shared[h, r] > 0}
