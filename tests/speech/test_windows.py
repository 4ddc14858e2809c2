"""The streaming form of the windowing rule (ser_img.speech.windows); that it agrees with
`window_spans` whatever the blocks is tests/test_recognizer.py's."""

from __future__ import annotations

import numpy as np

from ser_img.speech.windows import sliding_windows


def _blocks(samples: np.ndarray, size: int):
    return (samples[i : i + size] for i in range(0, len(samples), size))


def test_windows_start_every_hop_and_hold_their_samples():
    samples = np.arange(100, dtype=np.float32)
    windows = list(sliding_windows(_blocks(samples, 7), window=30, hop=20, min_tail=5))
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
