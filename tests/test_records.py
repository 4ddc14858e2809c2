"""The one answer shape and its views: the record, the flat rows, a readable repr."""

import numpy as np

from ser_img.labels import EMOTIONS
from ser_img.records import Recognition, Segment, SpeakerSummary, failure_record, flat_rows, unjudged

MODEL = {"name": "m", "version": "1"}


def _timeline() -> Recognition:
    a, b = np.eye(8)[4] * 0.7 + 0.3 / 8, np.eye(8)[3] * 0.6 + 0.4 / 8
    talk = Recognition(source="talk.wav", probabilities=(a + b) / 2, duration_s=8.0,
                       timeline=[Segment(0.0, 3.0, a, "S1"), Segment(3.0, 6.0, b, "S2")], shares=np.full(8, 1 / 8),
                       model=MODEL, speech_s=6.0)
    talk.speakers = [SpeakerSummary("S1", a, 3.0, 0.5, np.eye(8)[4], 1), SpeakerSummary("S2", b, 3.0, 0.5,
                                                                                         np.eye(8)[3], 1)]
    return talk


def test_flat_rows_give_a_file_row_then_speakers_then_segments():
    rows = flat_rows("talk.wav", _timeline())
    assert [r["row"] for r in rows] == ["file", "speaker", "speaker", "segment", "segment"]
    assert rows[1]["label"] == "angry" and rows[2]["speaker"] == "S2" and rows[4]["start"] == 3.0
    assert all(set(EMOTIONS) <= set(r) for r in rows)
    failed = flat_rows("bad.wav", "bad.wav: not audio", MODEL)
    assert failed[0]["outcome"] == "error" and failed[0]["error"] == "bad.wav: not audio"


def test_an_unjudged_answer_has_an_outcome_and_no_probabilities():
    short = unjudged("a.wav", 1.0, 0.2, [], MODEL)
    record = short.to_dict()
    assert record["label"] is None and record["probabilities"] is None and record["outcome"] == "too short"
    assert flat_rows("a.wav", short)[0]["angry"] is None
    assert unjudged("b.wav", 1.0, 0.0, [], MODEL).outcome == "no speech"


def test_failure_records_say_their_outcome():
    assert failure_record("x.wav", "x.wav: no such file") == {"source": "x.wav", "label": None, "outcome": "error",
                                                              "error": "x.wav: no such file"}


def test_repr_names_the_label_and_its_scores():
    text = repr(_timeline())
    assert "label='angry'" in text and "angry: " in text and "speakers=['S1', 'S2']" in text
    assert "array(" not in text
    summary = _timeline().speakers[0]
    assert summary.top(1)[0][0] == "angry" and summary.scores["angry"] > 0.7
