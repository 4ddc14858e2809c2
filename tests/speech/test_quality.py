"""Input quality: what is measured of a recording and the warnings it gives (ser_img.speech.quality)."""

from __future__ import annotations

import numpy as np

from pathlib import Path

import pytest

from ser_img.audio.conditions import add_coloured_noise, as_16_bit
from ser_img.audio.decode import load_audio
from ser_img.speech.quality import FRAME_S, NOISY_SNR_DB, frame_levels, measure, speech_seconds, warnings_for
from ser_img.speech.vad import speech_probabilities
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


EXAMPLE = sorted((Path(__file__).resolve().parents[2] / "ser_img" / "examples").glob("*.flac"))[0]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A real studio clip (one of the package's attributed examples), pauses around its words."""
    return load_audio(EXAMPLE, RATE).samples


def test_level_is_the_speech_level_and_only_very_quiet_speech_is_warned(speech):
    quality = measure(speech, RATE)
    quieter = measure(speech * np.float32(10 ** (-20 / 20)), RATE)
    assert quieter.speech_level_dbfs == pytest.approx(quality.speech_level_dbfs - 20, abs=0.2)
    assert not any("level" in w for w in warnings_for(quieter))  # the model levels it: measured harmless
    assert "very low level" in " ".join(warnings_for(measure(speech * np.float32(10 ** (-50 / 20)), RATE)))


def test_a_quiet_16_bit_file_keeps_its_speech(speech):
    """30 dB quieter and stored as 16-bit, a clip still has (nearly) all its speech: the model
    reads any level alike, so the speech floor only keeps out a file's quantisation noise."""
    quiet = as_16_bit(speech * np.float32(10 ** (-30 / 20)))
    assert speech_seconds(quiet, RATE) == pytest.approx(speech_seconds(speech, RATE), rel=0.15)


def test_noise_is_measured_in_the_pauses_and_warned_below_its_threshold(speech):
    clean = measure(speech, RATE)
    assert clean.snr_db > NOISY_SNR_DB + 10 and not any("noise" in w for w in warnings_for(clean))
    for snr in (20.0, 5.0):
        measured = measure(add_coloured_noise(speech, RATE, snr, "pink", seed=1), RATE).snr_db
        assert measured == pytest.approx(snr, abs=3.0)
    noisy = measure(add_coloured_noise(speech, RATE, 5.0, "pink", seed=1), RATE)
    assert "background noise" in " ".join(warnings_for(noisy))


def test_the_noise_measure_does_not_depend_on_the_level(speech):
    """The voice detector hears faint speech as pause; the measure must not (a quiet clean
    recording is not a noisy one)."""
    noisy = add_coloured_noise(speech, RATE, 20.0, "pink", seed=1)
    assert measure(noisy * 10 ** (-45 / 20), RATE).snr_db == pytest.approx(measure(noisy, RATE).snr_db, abs=0.1)


def test_no_noise_verdict_without_pauses(speech):
    """A clip cut to its speech has no pauses to measure noise in: no verdict, not a guess."""
    p = np.repeat(speech_probabilities(speech), 512)[: len(speech)]
    words_only = speech[p > 0.8]
    noisy = add_coloured_noise(words_only, RATE, 5.0, "pink", seed=2)
    assert measure(noisy, RATE).snr_db is None
    assert not any("noise" in w for w in warnings_for(measure(noisy, RATE)))


def test_a_loud_sound_the_detector_calls_a_pause_is_not_a_noise_floor(speech):
    """The detector calls some loud emotional speech (a shout, a sob) a pause; a few such chunks
    among quiet pauses must not make a clean recording 'noisy' (the median of the pauses, not
    their mean, is the floor). Measured on ASED: the mean warned 13 % of its clean clips."""
    burst = tone(0.4, RATE, 220, amplitude=0.5)  # loud, steady: never speech to the detector
    clip = np.concatenate([burst, np.zeros(RATE, np.float32), speech]).astype(np.float32)
    assert speech_probabilities(burst).max() < 0.15
    measured = measure(clip, RATE)
    assert measured.snr_db is None or measured.snr_db > NOISY_SNR_DB + 10
    assert not any("noise" in w for w in warnings_for(measured))


def test_pauses_as_loud_as_the_speech_give_no_noise_verdict(speech):
    """Where the chunks called pauses are louder than those called speech, the detector's labels
    say nothing of the noise: no verdict (it printed "speech about -120 dB above the noise")."""
    loud = tone(2.0, RATE, 220, amplitude=0.9) * (1 + 0.2 * np.sin(np.arange(2 * RATE) / RATE * 2 * np.pi * 3))
    quiet_speech = speech * np.float32(0.05 / max(float(np.abs(speech).max()), 1e-9))
    measured = measure(np.concatenate([loud.astype(np.float32), quiet_speech]), RATE)
    assert measured.snr_db is None
