"""Recording conditions: SNR against the active speech level, reproducible seeds, codecs."""

from pathlib import Path

import numpy as np
import pytest

from ser_img.audio import conditions
from ser_img.audio.conditions import (
    COLOURS, Condition, a_law, add_babble, add_coloured_noise, apply_condition, codec,
    coloured_noise, draw_condition, gain, peak_normalise,
)
from ser_img.audio.decode import load_audio
from ser_img.audio.level import speech_level_dbfs

RATE = 16000
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "ser_img" / "examples").glob("*.flac"))


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    return [load_audio(p, RATE).samples for p in EXAMPLES[:5]]


def _snr(clean: np.ndarray, mixed: np.ndarray) -> float:
    noise = mixed.astype(np.float64) - clean
    return speech_level_dbfs(clean, RATE) - 10 * np.log10(np.mean(noise**2))


@pytest.mark.parametrize("colour", list(COLOURS))
@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_coloured_noise_snr(clips, colour, snr):
    mixed = add_coloured_noise(clips[0], RATE, snr, colour, seed=3)
    assert len(mixed) == len(clips[0]) and mixed.dtype == np.float32
    assert abs(_snr(clips[0], mixed) - snr) < 0.5


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_babble_snr(clips, snr):
    mixed = add_babble(clips[0], RATE, snr, clips[1:], seed=1)
    assert abs(_snr(clips[0], mixed) - snr) < 0.5


def test_seeds_reproducible(clips):
    x = clips[0]
    for condition in (Condition("noise", 10, "brown"), Condition("babble", 10)):
        a = apply_condition(x, RATE, condition, seed=7, babble_sources=clips[1:])
        b = apply_condition(x, RATE, condition, seed=7, babble_sources=clips[1:])
        c = apply_condition(x, RATE, condition, seed=8, babble_sources=clips[1:])
        assert np.array_equal(a, b)
        assert not np.allclose(a, c)
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert [draw_condition(rng1) for _ in range(20)] == [draw_condition(rng2) for _ in range(20)]


def test_noise_colours_slope():
    """Power per octave: white rises 3 dB, pink is flat, brown falls 3 dB."""
    for colour, slope in (("white", 3.0), ("pink", 0.0), ("brown", -3.0)):
        n = coloured_noise(2**18, colour, 0)
        spectrum = np.abs(np.fft.rfft(n)) ** 2
        freqs = np.fft.rfftfreq(len(n), 1 / RATE)
        octave = lambda lo: spectrum[(freqs >= lo) & (freqs < 2 * lo)].sum()  # noqa: E731
        assert np.sqrt(np.mean(n**2)) == pytest.approx(1.0, abs=1e-4)
        assert 10 * np.log10(octave(1000) / octave(500)) == pytest.approx(slope, abs=0.6)


def test_gain_and_peak(clips):
    x = clips[0]
    assert np.max(np.abs(peak_normalise(x, -1.0))) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert np.max(np.abs(peak_normalise(x * 0.01, -35.0))) == pytest.approx(10 ** (-35 / 20), rel=1e-5)
    assert speech_level_dbfs(gain(x, -12), RATE) == pytest.approx(speech_level_dbfs(x, RATE) - 12, abs=0.1)


def test_a_quiet_gain_stored_as_16_bit_meets_its_quantisation_noise(clips):
    x = clips[0]
    stored = apply_condition(x, RATE, Condition("gain", -55, "16bit"))
    np.testing.assert_allclose(stored * 32767, np.round(stored * 32767), atol=1e-3)  # on the 16-bit grid
    error = stored.astype(np.float64) - gain(x, -55)
    assert np.max(np.abs(error)) <= 0.5 / 32767 + 1e-9 and np.mean(error**2) > 0  # rounded, half an LSB at most
    assert np.array_equal(apply_condition(x, RATE, Condition("gain", -55)), gain(x, -55))  # float: no noise


@pytest.mark.parametrize("name", ["mulaw", "alaw", "mp3", "opus"])
def test_codecs_keep_length_and_most_of_the_signal(clips, name):
    x = clips[1] / np.max(np.abs(clips[1])) * 0.5
    y = codec(x, RATE, name)
    assert len(y) == len(x) and y.dtype == np.float32
    assert abs(speech_level_dbfs(y, RATE) - speech_level_dbfs(x, RATE)) < 1.5
    if name in ("mulaw", "alaw"):  # sample-aligned: a waveform SNR of ~30 dB or more
        assert 10 * np.log10(np.sum(x**2) / np.sum((y - x) ** 2)) > 25


def test_a_law_is_odd_and_bounded():
    x = np.linspace(-1, 1, 1001)
    y = a_law(x)
    assert np.allclose(y, -a_law(-x)) and np.max(np.abs(y)) <= 1.0
    assert np.max(np.abs(y - x) / np.maximum(np.abs(x), 1 / 87.6)) < 0.03  # 8 bits: ~2 % steps


def test_telephone_and_names(clips):
    y = apply_condition(clips[0], RATE, Condition("telephone"))
    assert len(y) == len(clips[0])
    assert Condition("noise", 20, "pink").name == "pink20"
    assert Condition("peak", -1).name == "peak-1"
    assert Condition("babble", 10).name == "babble10"
    with pytest.raises(ValueError):
        apply_condition(clips[0], RATE, Condition("reverb"))


def test_lowpass_removes_what_is_above_its_cut_off():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(RATE).astype(np.float32) * 0.1
    y = conditions.lowpass(x, RATE, 3000)
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / RATE)
    assert len(y) == len(x) and spectrum[freqs > 4500].sum() < 1e-3 * spectrum[freqs < 2500].sum()


def test_room_spreads_an_impulse_over_its_reverberation_time():
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    short, long = (conditions.reverberate(click, RATE, rt60, seed=0) for rt60 in (0.2, 0.8))
    energy_after = [float(np.sum(y[100 + int(0.15 * RATE):] ** 2)) for y in (short, long)]
    assert len(short) == RATE and short[100] == pytest.approx(1.0, abs=0.2)
    assert energy_after[1] > 10 * energy_after[0]  # the longer room still rings after 150 ms
    assert np.array_equal(conditions.reverberate(click, RATE, 0.5, 7), conditions.reverberate(click, RATE, 0.5, 7))


def test_training_copies_repeat_with_their_seed_and_differ_across_copies(clips):
    first, condition = conditions.training_copy(clips[0], RATE, (1, 42), clips[1:])
    again, same = conditions.training_copy(clips[0], RATE, (1, 42), clips[1:])
    assert condition == same and np.array_equal(first, again)
    drawn = {conditions.training_copy(clips[0], RATE, (copy, 42), clips[1:])[1].kind for copy in range(1, 40)}
    assert {"noise", "babble", "lowpass", "room", "codec"} <= drawn
    no_babble = {conditions.training_copy(clips[0], RATE, (copy, 42))[1].kind for copy in range(1, 40)}
    assert "babble" not in no_babble
