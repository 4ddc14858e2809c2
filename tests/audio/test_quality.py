"""Input quality: what is measured of a recording and the warnings it gives (ser_img.audio.quality)."""

from __future__ import annotations

import numpy as np

from ser_img.audio.quality import FRAME_S, frame_levels, measure, speech_seconds, warnings_for
from tests.sounds import tone

RATE = 16000


def _speechlike(seconds: float, amplitude: float = 0.3, noise: float = 1e-5) -> np.ndarray:
    """A tone switched on and off every 0.2 s (loud and quiet frames, as speech has), with
    white noise under it (-100 dBFS unless told) and energy above 4 kHz."""
    rng = np.random.default_rng(0)
    n = int(seconds * RATE)
    gate = (np.arange(n) // int(0.2 * RATE)) % 2 == 0
    signal = (tone(seconds, RATE, 300, amplitude=amplitude) + tone(seconds, RATE, 5000, amplitude=amplitude / 4)) * gate
    return (signal + noise * rng.standard_normal(n)).astype(np.float32)


def test_frame_levels_are_dbfs_per_16_ms():
    levels = frame_levels(np.concatenate([np.zeros(256, np.float32), np.ones(256, np.float32)]), RATE)
    assert len(levels) == 2 and int(FRAME_S * RATE) == 256
    assert levels[0] == -np.inf and levels[1] == 0.0


def test_a_steady_sound_holds_no_speech_and_a_varying_one_does():
    assert speech_seconds(tone(3.0, RATE), RATE) == 0.0
    assert 1.3 < speech_seconds(_speechlike(3.0), RATE) < 1.7  # half of it is on


def test_clean_full_band_speech_gets_no_warning():
    quality = measure(_speechlike(3.0), RATE)
    assert quality.clipped_fraction == 0.0 and quality.high_band_db > -45
    assert warnings_for(quality) == []


def test_each_problem_gets_its_warning():
    def words(samples, rate=RATE, source_rate=None):
        return " ".join(warnings_for(measure(samples, rate), source_rate))

    assert "little speech" in words(_speechlike(1.5))
    assert "narrowband" in words(_speechlike(3.0), source_rate=8000)
    assert "narrowband" in words(tone(3.0, RATE, 300) * ((np.arange(3 * RATE) // 3200) % 2))
    clipped = np.clip(_speechlike(3.0) * 10, -1, 1)
    assert "clipped audio" in words(clipped)
    assert "very low level" in words(_speechlike(3.0, amplitude=0.003))
    assert "background noise" in words(_speechlike(3.0, noise=0.01))
