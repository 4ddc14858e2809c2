"""Audio as a stream of blocks: spans and batches over it (ser_img.audio.stream)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_img.audio.stream import audio_duration, batched, channel_count, cut, read_blocks
from tests.sounds import tone, write


def _blocks(samples: np.ndarray, size: int):
    return (samples[i : i + size] for i in range(0, len(samples), size))


def test_cut_gives_each_span_across_blocks_overlapping_ones_too():
    samples = np.arange(50, dtype=np.float32)
    spans = [(3, 9), (5, 22), (30, 31), (45, 60)]
    pieces = list(cut(_blocks(samples, 4), spans))
    for (start, end), piece in zip(spans, pieces):
        np.testing.assert_array_equal(piece, samples[start:min(end, 50)])


def test_batched_groups_as_they_come():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_read_blocks_gives_mono_blocks_at_the_rate_asked(tmp_path):
    stereo = np.stack([tone(2.0, 8000, 300), np.zeros(16000, np.float32)], axis=1)
    path = write(tmp_path / "call.wav", stereo, 8000)
    assert channel_count(path) == 2 and audio_duration(path) == pytest.approx(2.0)
    blocks = list(read_blocks(path, 16000, block_s=0.5))
    assert len(blocks) >= 4 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert sum(map(len, blocks)) == pytest.approx(32000, abs=16)
    right = np.concatenate(list(read_blocks(path, 16000, channel=1)))
    assert np.abs(right).max() < 1e-3 < np.abs(np.concatenate(blocks)).max()


def test_header_questions_of_a_file_that_is_not_audio_are_unknown(tmp_path):
    (tmp_path / "x.wav").write_text("not audio")
    assert channel_count(tmp_path / "x.wav") is None and audio_duration(tmp_path / "x.wav") is None
