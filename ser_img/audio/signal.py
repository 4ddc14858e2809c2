"""Signal-processing layer under the image and the acoustic features: framing, the window,
the power spectrum, the mel filterbank, silence trimming and centring, and the logistic
function the recurrent ports (VAD, voice encoder) share.

Plain NumPy, no settings objects: `spectrogram` (the image), `descriptors` and
`functionals` all build on it, and none of them imports another.
"""

from __future__ import annotations

import functools

import numpy as np

SILENCE_PEAK = 1e-5  # -100 dBFS: a clip whose peak is below this is silence


def trim_silence(samples: np.ndarray, n_fft: int, hop_length: int, trim_db: float) -> np.ndarray:
    """Drop the frames at either end whose RMS is `trim_db` or more below the loudest frame."""
    if len(samples) < n_fft or np.abs(samples).max() < SILENCE_PEAK:
        return samples
    frames = frame(samples, n_fft, hop_length)
    rms_db = 10.0 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-20))
    loud = np.flatnonzero(rms_db > rms_db.max() - trim_db)
    start = loud[0] * hop_length
    end = min(len(samples), loud[-1] * hop_length + n_fft)
    return samples[start:end]


def frame(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Overlapping frames (count, n_fft) as a view: no copy."""
    count = 1 + (len(samples) - n_fft) // hop_length
    return np.lib.stride_tricks.as_strided(
        samples, shape=(count, n_fft), strides=(samples.strides[0] * hop_length, samples.strides[0])
    )


def centre(samples: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop, or centre-pad with silence, to `length` samples."""
    if len(samples) >= length:
        start = (len(samples) - length) // 2
        return samples[start : start + length]
    before = (length - len(samples)) // 2
    return np.pad(samples, (before, length - len(samples) - before))


@functools.lru_cache(maxsize=8)
def mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel's defaults (Slaney mel scale, Slaney area normalisation), in NumPy:
    importing librosa's filters compiles numba code, a second of every cold start."""
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    basis = np.maximum(0.0, np.minimum(lower, upper))
    basis *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return basis.astype(np.float32)


_MEL_BREAK_HZ, _MEL_LINEAR_STEP, _MEL_LOG_STEP = 1000.0, 200.0 / 3, np.log(6.4) / 27.0


def hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _MEL_LINEAR_STEP
    logarithmic = _MEL_BREAK_HZ / _MEL_LINEAR_STEP + np.log(np.maximum(hz, 1e-10) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return np.where(hz >= _MEL_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    break_mel = _MEL_BREAK_HZ / _MEL_LINEAR_STEP
    return np.where(mel >= break_mel, _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (mel - break_mel)),
                    _MEL_LINEAR_STEP * mel)


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def power_spectrum(frames: np.ndarray) -> np.ndarray:
    """Periodic-Hann-windowed power spectrum of each frame (frames, n_fft // 2 + 1), float32."""
    spectrum = np.fft.rfft(frames * _hann(frames.shape[1]), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def sigmoid(x):
    """The logistic function 1 / (1 + exp(-x)), numerically stable: as 0.5 (1 + tanh(x / 2)) it
    never overflows (huge inputs give exactly 1 or 0, without a warning) and keeps float32 float32."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))
