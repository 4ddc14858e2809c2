"""The simulated telephone channel: band, rate and coding of a narrowband call."""

import numpy as np
import pytest

from ser_img.audio.channel import apply_channel, mu_law, telephone
from ser_img.features.spectrogram import RenderSettings
from ser_img.errors import UsageError


def _gain(frequency: float, sample_rate: int = 16000) -> float:
    t = np.arange(sample_rate) / sample_rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    out = telephone(tone, sample_rate)
    assert len(out) == len(tone) and out.dtype == np.float32
    return float(np.sqrt(np.mean(out[2000:-2000] ** 2)) / np.sqrt(np.mean(tone ** 2)))


@pytest.mark.parametrize("frequency, passes", [(100, False), (1000, True), (3000, True), (5000, False)])
def test_telephone_keeps_300_to_3400_hz_only(frequency, passes):
    assert (_gain(frequency) > 0.9) if passes else (_gain(frequency) < 0.1)


def test_mu_law_is_eight_bit_and_close():
    x = np.linspace(-1, 1, 20001, dtype=np.float32)
    coded = mu_law(x)
    assert len(np.unique(coded)) <= 256
    assert np.abs(coded - x).max() < 0.03
    assert np.abs(mu_law(np.float32([0.001]))[0] - 0.001) < 0.0005  # fine steps near zero, as G.711


def test_no_channel_changes_nothing_and_unknown_channels_are_refused():
    x = np.random.default_rng(0).normal(size=800).astype(np.float32)
    assert apply_channel(x, 16000, "") is x
    with pytest.raises(UsageError, match="unknown channel"):
        RenderSettings(channel="radio")
