"""Simulated transmission channels, for training on speech as it arrives from a telephone.

`telephone`: what a narrowband call does to speech: resampled to 8 kHz, band-limited to
300-3400 Hz (the telephone band), G.711 mu-law coded (8 bits a sample), and brought back
to the original rate. Rendering a corpus through it (`ser-img render --channel telephone`)
gives copies of its clips that the model can learn from and be measured on.
"""

from __future__ import annotations

import functools

import numpy as np
import soxr

CHANNELS = ("", "telephone")
TELEPHONE_RATE = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
MU = 255.0


@functools.lru_cache(maxsize=1)
def _band_filter():
    from scipy.signal import butter

    return butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE, output="sos")


def mu_law(samples: np.ndarray) -> np.ndarray:
    """G.711 mu-law: compand, quantise to 8 bits, expand."""
    x = np.clip(samples, -1.0, 1.0)
    companded = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    quantised = np.round((companded + 1.0) * 127.5) / 127.5 - 1.0
    return (np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(MU)) / MU).astype(np.float32)


def telephone(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip as a narrowband telephone line delivers it, at `sample_rate` again."""
    from scipy.signal import sosfilt

    narrow = soxr.resample(np.asarray(samples, np.float32), sample_rate, TELEPHONE_RATE)
    narrow = sosfilt(_band_filter(), narrow).astype(np.float32)
    return soxr.resample(mu_law(narrow), TELEPHONE_RATE, sample_rate).astype(np.float32)


def apply_channel(samples: np.ndarray, sample_rate: int, channel: str) -> np.ndarray:
    if channel == "telephone":
        return telephone(samples, sample_rate)
    return samples
