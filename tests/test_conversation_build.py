"""The conversation benchmark's builder (benchmarks/conversation_build.py) on a synthetic corpus:
the turns scored "alone in the same noise" are exactly the conversation where nobody else
speaks, and differ from it where another voice overlaps."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import conversation_build as build  # noqa: E402

RATE = build.RATE


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """A corpus of two speakers with MIN_CLIPS bursts of noise each, as ../shared lays one out."""
    root = tmp_path_factory.mktemp("shared")
    folder = root / "corpora" / "synthetic"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for speaker in ("a", "b"):
        for k in range(build.MIN_CLIPS):
            seconds = rng.uniform(0.6, 1.2)
            t = np.arange(int(seconds * RATE)) / RATE
            burst = rng.normal(0, 0.1, len(t)) * np.sin(np.pi * t / seconds) ** 2  # swells and fades
            silence = np.zeros(RATE // 5)
            name = f"{speaker}{k:02d}.wav"
            soundfile.write(str(folder / name), np.concatenate([silence, burst, silence]).astype(np.float32), RATE)
            rows.append({"path": name, "label": "angry" if k % 2 else "sad", "speaker": speaker})
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_each_turn_alone_is_the_conversation_where_nobody_else_speaks(shared):
    clips = build.by_speaker(build.corpus_clips("synthetic", shared))
    found_overlap = False
    for index in range(4):
        audio, info = build.build_conversation("synthetic", clips, 2, index, seed=0)
        solo = build.solo_turns(info, shared)
        spans = build.assemble(clips, 2, index, 0, build.SNR_DB)[2]  # in samples (the description rounds)
        assert len(spans) == len(info["turns"])
        assert [len(s) for s in solo] == [end - start for start, end in spans]
        for i, ((start, end), alone) in enumerate(zip(spans, solo)):
            overlapped = any(s < end and start < e for j, (s, e) in enumerate(spans) if j != i)
            found_overlap |= overlapped
            if overlapped:
                assert not np.array_equal(alone, audio[start:end])
            else:
                np.testing.assert_array_equal(alone, audio[start:end])
    assert found_overlap, "no overlapping turns were built: the test checked only half of what it should"
