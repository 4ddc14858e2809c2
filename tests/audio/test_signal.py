"""The signal arithmetic under the image, the descriptors and the recurrent ports."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ser_img.audio.signal import centre, frame, hz_to_mel, mel_basis, mel_to_hz, power_spectrum, sigmoid, trim_silence


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.longdouble)))


def test_sigmoid_saturates_without_overflow_or_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            biggest = np.finfo(dtype).max
            got = sigmoid(np.array([-biggest, -1e6, -1000, -89, 89, 1000, 1e6, biggest], dtype))
            np.testing.assert_array_equal(got, [0, 0, 0, 0, 1, 1, 1, 1])


def test_sigmoid_is_the_logistic_function_and_keeps_the_dtype():
    x = np.linspace(-30, 30, 2001)
    np.testing.assert_allclose(sigmoid(x), _logistic(x).astype(np.float64), rtol=0, atol=1e-15)
    x32 = x.astype(np.float32)
    assert sigmoid(x32).dtype == np.float32
    np.testing.assert_allclose(sigmoid(x32), _logistic(x32).astype(np.float64), rtol=0, atol=2e-7)
    assert sigmoid(0.0) == 0.5
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, atol=1e-15)  # symmetric


def test_frame_is_a_view_of_overlapping_windows():
    samples = np.arange(10, dtype=np.float32)
    frames = frame(samples, 4, 3)
    np.testing.assert_array_equal(frames, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert np.shares_memory(frames, samples)


@pytest.mark.parametrize("length", [7, 8])
def test_centre_crops_and_pads_around_the_middle(length):
    np.testing.assert_array_equal(centre(np.arange(10), 4), [3, 4, 5, 6])
    padded = centre(np.ones(3), length)
    assert len(padded) == length and padded.sum() == 3
    assert padded[(length - 3) // 2] == 1 and padded[0] == 0 and padded[-1] == 0


def test_trim_silence_drops_quiet_ends_and_keeps_silence_whole():
    rate = 16000
    t = np.arange(rate) / rate
    loud = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    clip = np.concatenate([np.zeros(rate, np.float32), loud, np.zeros(rate, np.float32)])
    trimmed = trim_silence(clip, 1024, 256, 40.0)
    assert rate <= len(trimmed) < rate + 2 * 1024
    silence = np.zeros(rate, np.float32)
    assert trim_silence(silence, 1024, 256, 40.0) is silence


def test_power_spectrum_peaks_at_the_tones_bin():
    n = 512
    tone = np.sin(2 * np.pi * 32 * np.arange(n) / n).astype(np.float32)
    spectrum = power_spectrum(tone[None, :])
    assert spectrum.shape == (1, n // 2 + 1) and spectrum.dtype == np.float32
    assert spectrum[0].argmax() == 32


def test_mel_scale_round_trips_and_the_filterbank_covers_the_band():
    hz = np.array([0.0, 500.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-6)
    assert np.all(np.diff(hz_to_mel(hz)) > 0)
    basis = mel_basis(16000, 512, 40, 0.0, 8000.0)
    assert basis.shape == (40, 257) and basis.dtype == np.float32
    assert np.all(basis >= 0) and np.all(basis.max(axis=1) > 0)  # every band has some bins
    assert np.all(np.diff(basis.argmax(axis=1)) >= 0)  # bands rise in frequency
