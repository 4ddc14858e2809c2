"""Diarization error rate (ser_img.conversation.der).

The figures were also checked against pyannote.metrics 4.2.0 (with pyannote.core 6.1.0), in a
throwaway virtual environment outside the project (it is not a dependency): on 4,000 random
cases (1 to 11 reference segments of 3 speakers over 30 s, overlapping freely, each speaker's
own segments merged; 0 to 11 hypothesis segments of 4 speakers; collar 0 and 0.25 s per side,
i.e. pyannote's `DiarizationErrorRate(collar=0.5)`), missed, false alarm, confusion, total and
the rate agreed to 1e-12 s. Reproduce: `pip install pyannote.metrics` in a separate venv, build
`pyannote.core.Annotation`s from the same (start, end, speaker) lists and compare
`metric(reference, hypothesis, detailed=True)` with `diarization_error(...).to_dict()`.
"""

from __future__ import annotations

import pytest

from ser_img.conversation.der import diarization_error, merge_turns

REFERENCE = [(0.0, 4.0, "alice"), (4.5, 9.0, "bob"), (9.3, 12.0, "alice")]


def test_perfect_hypothesis_scores_zero():
    error = diarization_error(REFERENCE, REFERENCE)
    assert error.rate == 0.0
    assert error.total == pytest.approx(4.0 + 4.5 + 2.7 - 6 * 0.25)  # six boundaries, 0.25 s of speech each


def test_swapped_labels_score_zero_through_the_mapping():
    hypothesis = [(s, e, {"alice": "S2", "bob": "S1"}[who]) for s, e, who in REFERENCE]
    error = diarization_error(REFERENCE, hypothesis)
    assert error.rate == 0.0
    assert error.mapping == {"S1": "bob", "S2": "alice"}


def test_everything_missed_scores_one():
    error = diarization_error(REFERENCE, [])
    assert error.rate == pytest.approx(1.0)
    assert error.missed == pytest.approx(error.total)
    assert error.false_alarm == error.confusion == 0.0


def test_one_speaker_for_everyone_is_confusion():
    error = diarization_error(REFERENCE, [(0.0, 12.0, "S1")], collar=0.0)
    # S1 maps onto alice (6.7 s), bob's 4.5 s are confused; the 0.8 s of pauses are false alarm.
    assert error.mapping == {"S1": "alice"}
    assert error.confusion == pytest.approx(4.5)
    assert error.false_alarm == pytest.approx(0.8)
    assert error.rate == pytest.approx((4.5 + 0.8) / 11.2)


def test_collar_forgives_small_boundary_shifts_only():
    late = [(0.0, 4.0, "A"), (4.5, 9.0, "B"), (9.3, 12.2, "A")]  # alice's last end 0.2 s late
    assert diarization_error(REFERENCE, late, collar=0.25).rate == 0.0
    assert diarization_error(REFERENCE, late, collar=0.0).false_alarm == pytest.approx(0.2)
    later = [(0.0, 4.0, "A"), (4.5, 9.0, "B"), (9.3, 12.4, "A")]  # 0.4 s late: 0.15 s outside the collar
    assert diarization_error(REFERENCE, later, collar=0.25).false_alarm == pytest.approx(0.15)


def test_hand_computed_case_with_collar_and_overlap():
    """Reference: A 0-10 s, B 8-14 s (two at once from 8 to 10). Collars of 0.25 s around
    0, 8, 10 and 14 leave 0.25-7.75 (A), 8.25-9.75 (A and B), 10.25-13.75 (B) scored:
    7.5 + 2 x 1.5 + 3.5 = 14 s of reference speech. Hypothesis x 0-9, y 9-12.5, x 12.5-14
    and z 15-16: x maps onto A (8.25 s shared), y onto B (3 s). Missed: one of the two
    speakers in 8.25-9.75 (1.5 s); confusion: x for B in 12.5-13.75 (1.25 s); false alarm:
    z (1 s). DER = 3.75 / 14."""
    reference = [(0.0, 10.0, "A"), (8.0, 14.0, "B")]
    hypothesis = [(0.0, 9.0, "x"), (9.0, 12.5, "y"), (12.5, 14.0, "x"), (15.0, 16.0, "z")]
    error = diarization_error(reference, hypothesis, collar=0.25)
    assert error.total == pytest.approx(14.0)
    assert error.missed == pytest.approx(1.5)
    assert error.confusion == pytest.approx(1.25)
    assert error.false_alarm == pytest.approx(1.0)
    assert error.rate == pytest.approx(3.75 / 14.0)
    assert error.mapping == {"x": "A", "y": "B"}


def test_overlap_counts_once_per_speaker():
    reference = [(0.0, 2.0, "A"), (0.0, 2.0, "B")]
    error = diarization_error(reference, [(0.0, 2.0, "S1")], collar=0.0)
    assert error.total == pytest.approx(4.0)
    assert error.missed == pytest.approx(2.0)
    assert error.rate == pytest.approx(0.5)


def test_speech_with_no_reference_is_all_false_alarm():
    error = diarization_error([], [(1.0, 2.0, "S1")])
    assert error.false_alarm == pytest.approx(1.0)
    assert error.total == 0.0 and error.rate == 1.0
    assert diarization_error([], []).rate == 0.0


def test_merge_turns_joins_each_speakers_overlapping_windows():
    windows = [(0.0, 3.0, "S1"), (1.5, 4.5, "S1"), (4.5, 6.0, "S1"), (7.0, 8.0, "S1"), (2.0, 5.0, "S2"),
               (3.0, 3.0, "S2")]
    assert merge_turns(windows) == [(0.0, 6.0, "S1"), (2.0, 5.0, "S2"), (7.0, 8.0, "S1")]


def test_overlapping_hypothesis_windows_are_not_counted_twice():
    windows = [(0.0, 3.0, "S1"), (1.5, 4.5, "S1"), (3.0, 6.0, "S1")]
    assert diarization_error([(0.0, 6.0, "A")], windows, collar=0.0).rate == 0.0
