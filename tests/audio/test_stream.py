"""Audio as a stream of blocks: windows, spans and batches over it (ser_img.audio.stream)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_img.audio.stream import audio_duration, batched, channel_count, cut, read_blocks, sliding_windows
from tests.sounds import tone, write


def _blocks(samples: np.ndarray, size: int):
    return (samples[i : i + size] for i in range(0, len(samples), size))


@pytest.mark.parametrize("block", [1, 7, 100, 1000])
def test_windows_are_the_same_whatever_the_blocks(block):
    samples = np.arange(100, dtype=np.float32)
    windows = list(sliding_windows(_blocks(samples, block), window=30, hop=20, min_tail=5))
    assert [(w.start, w.end) for w in windows] == [(0, 30), (20, 50), (40, 70), (60, 90), (80, 100)]
    for w in windows:
        np.testing.assert_array_equal(w.samples, samples[w.start : w.end])


def test_a_short_tail_is_dropped_and_a_short_stream_is_one_window():
    samples = np.arange(93, dtype=np.float32)
    windows = list(sliding_windows(_blocks(samples, 10), window=30, hop=30, min_tail=5))
    assert [(w.start, w.end) for w in windows] == [(0, 30), (30, 60), (60, 90)]  # 3 left: under min_tail
    (only,) = sliding_windows(_blocks(np.ones(12, np.float32), 5), window=30, hop=30, min_tail=20)
    assert (only.start, only.end) == (0, 12)
    assert list(sliding_windows([], window=30, hop=30, min_tail=1)) == []


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
