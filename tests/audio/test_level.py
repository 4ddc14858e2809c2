"""Active speech level (ITU-T P.56 method B) and the two-sided level normalisation."""

from pathlib import Path

import numpy as np
import pytest

from ser_img.audio.decode import load_audio
from ser_img.audio.level import SILENCE_DBFS, active_level, normalise_level, speech_level_dbfs

RATE = 16000
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "ser_img" / "examples").glob("*.flac"))


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """One RAVDESS example clip with its leading and trailing silence cut off."""
    x = load_audio(EXAMPLES[2], RATE).samples
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
    return x[loud[0]:loud[-1]]


def test_tone_burst_amid_silence_measures_its_rms():
    """P.56's known case: a 1-kHz burst of known RMS with silence either side measures that
    RMS, less what the 200-ms hangover and the 30-ms envelope's decay add to its active
    time (2 s -> about 2.3 s: 0.4-0.7 dB)."""
    t = np.arange(2 * RATE) / RATE
    burst = 0.1 * np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)  # RMS 0.1: -20 dB
    x = np.concatenate([np.zeros(RATE), burst, np.zeros(2 * RATE)])
    level = active_level(x, RATE)
    assert -20.7 < level.level_dbfs < -20.0 - 10 * np.log10(2.2 / 2.0)
    assert 2.2 / 5.0 < level.activity < 2.4 / 5.0
    assert level.rms_dbfs == pytest.approx(-20.0 + 10 * np.log10(2 / 5), abs=0.01)


def test_continuous_tone_is_its_rms():
    t = np.arange(RATE) / RATE
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    assert speech_level_dbfs(x, RATE) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)


def test_silence_and_empty():
    assert speech_level_dbfs(np.zeros(RATE), RATE) == SILENCE_DBFS
    assert speech_level_dbfs(np.zeros(0), RATE) == SILENCE_DBFS
    assert np.array_equal(normalise_level(np.zeros(100), RATE), np.zeros(100))


def _with_pauses(speech: np.ndarray, pieces: int) -> np.ndarray:
    """`speech` cut into `pieces`, with as much silence again spread before, between and after."""
    parts = np.array_split(speech, pieces)
    gap = np.zeros(len(speech) // (pieces + 1), np.float32)
    return np.concatenate([gap] + [p for part in parts for p in (part, gap)])


def test_pauses_barely_move_the_level(speech):
    """The same speech with as much silence again, before, between its two halves and after:
    the active level moves < 1 dB, the whole-file RMS by 3."""
    paused = _with_pauses(speech, 2)
    plain = active_level(speech, RATE)
    with_pauses = active_level(paused, RATE)
    assert abs(with_pauses.level_dbfs - plain.level_dbfs) < 1.0
    assert abs(with_pauses.rms_dbfs - plain.rms_dbfs) > 2.5  # the whole-file RMS does move
    assert with_pauses.activity < 0.75 * plain.activity


def test_many_pauses_cost_a_little_each(speech):
    """Four pieces, five pauses: each pause adds about 0.3 s of hangover and envelope decay to
    the active time, so the level reads lower, but far less than the whole-file RMS does."""
    plain = active_level(speech, RATE)
    paused = active_level(_with_pauses(speech, 4), RATE)
    assert abs(paused.level_dbfs - plain.level_dbfs) < 1.6
    assert abs(paused.rms_dbfs - plain.rms_dbfs) > 2 * abs(paused.level_dbfs - plain.level_dbfs)


@pytest.mark.parametrize("path", EXAMPLES[:4], ids=lambda p: p.name)
def test_normalise_is_two_sided_and_gain_invariant(path):
    """Scaling the input by -30 ... +20 dB changes the normalised output by < 0.1 dB."""
    x = load_audio(path, RATE).samples
    reference = normalise_level(x, RATE, -26.0)
    assert speech_level_dbfs(reference, RATE) == pytest.approx(-26.0, abs=0.1)
    ref_power = np.mean(reference.astype(np.float64) ** 2)
    for db in (-30, -12, 0, 6, 20):
        out = normalise_level(x * 10 ** (db / 20), RATE, -26.0)
        change = 10 * np.log10(np.mean(out.astype(np.float64) ** 2) / ref_power)
        assert abs(change) < 0.1, (db, change)
        assert np.max(np.abs(out - reference)) < 0.02 * np.max(np.abs(reference))


def test_normalise_lowers_loud_clips():
    t = np.arange(RATE) / RATE
    x = 0.9 * np.sin(2 * np.pi * 300 * t)
    out = normalise_level(x, RATE, -26.0)
    assert np.max(np.abs(out)) < 0.1
    assert out.dtype == np.float32


def test_any_rate():
    t = np.arange(48000) / 48000
    x = 0.1 * np.sin(2 * np.pi * 500 * t)
    assert speech_level_dbfs(x, 48000) == pytest.approx(speech_level_dbfs(x[::3], 16000), abs=0.1)
