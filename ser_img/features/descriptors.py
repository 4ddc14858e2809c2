"""Acoustic descriptors of a clip: statistics of its spectrum, cepstrum, energy and pitch.

They sit beside the CNN's embeddings for the heads. Computed from the same trimmed
16-kHz signal the image is rendered from (trimmed once, by the caller), in plain NumPy
(a few milliseconds a clip).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft

from ser_img.audio.signal import frame, mel_basis, power_spectrum

N_MELS = 40
N_MFCC = 20
PITCH_FLOOR_HZ, PITCH_CEILING_HZ = 60.0, 500.0
VOICING_THRESHOLD = 0.45  # normalised autocorrelation peak above which a frame counts as voiced


def _stats(rows: np.ndarray) -> np.ndarray:
    """Per row of (features, frames): mean, std, 10th/50th/90th percentile, mean |delta|,
    linear slope over the clip (per unit of its length) and skewness."""
    if rows.shape[1] < 3:
        rows = np.repeat(rows, 3, axis=1) if rows.shape[1] else np.zeros((rows.shape[0], 3), rows.dtype)
    p10, p50, p90 = np.percentile(rows, [10, 50, 90], axis=1)
    delta = np.abs(np.diff(rows, axis=1)).mean(axis=1)
    mean, std = rows.mean(1), rows.std(1)
    time = np.linspace(-0.5, 0.5, rows.shape[1])
    slope = (rows - mean[:, None]) @ time / (time @ time)
    skew = (((rows - mean[:, None]) / np.maximum(std[:, None], 1e-6)) ** 3).mean(1)
    return np.concatenate([mean, std, p10, p50, p90, delta, slope, skew])


@functools.lru_cache(maxsize=4)
def _dct(n_in: int, n_out: int) -> np.ndarray:
    return scipy.fft.dct(np.eye(n_in), type=2, norm="ortho", axis=0)[:n_out].astype(np.float32)


def _spectra(samples: np.ndarray, settings) -> tuple[np.ndarray, np.ndarray]:
    n_fft, hop = settings.n_fft, settings.hop_length
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    frames = frame(np.ascontiguousarray(samples, dtype=np.float32), n_fft, hop)
    return frames, power_spectrum(frames)


def _pitch(frames: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: f0 in semitones re 100 Hz and the normalised autocorrelation peak."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    n = centred.shape[1]
    power = np.abs(np.fft.rfft(centred, 2 * n, axis=1)) ** 2
    acf = np.fft.irfft(power, axis=1)[:, :n]
    # Divide by the overlap length so long lags are not penalised, then by lag 0.
    acf = acf / (n - np.arange(n)) * n
    acf = acf / np.maximum(acf[:, :1], 1e-12)
    low, high = int(sample_rate / PITCH_CEILING_HZ), int(sample_rate / PITCH_FLOOR_HZ)
    lag = low + acf[:, low:high].argmax(axis=1)
    strength = acf[np.arange(len(acf)), lag]
    return 12.0 * np.log2(sample_rate / lag / 100.0), strength


def descriptors(samples: np.ndarray, settings) -> np.ndarray:
    """A fixed-length float32 vector describing one trimmed mono clip at `settings.sample_rate`
    (`settings`: a RenderSettings)."""
    samples = np.asarray(samples, dtype=np.float32)
    frames, power = _spectra(samples, settings)
    sr = settings.sample_rate
    mel = mel_basis(sr, settings.n_fft, N_MELS, settings.fmin, settings.fmax) @ power.T
    log_mel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    log_mel -= log_mel.max()  # level relative to the clip's peak: the recording gain drops out
    mfcc = _dct(N_MELS, N_MFCC) @ log_mel
    total = np.maximum(power.sum(1), 1e-10)
    energy_db = 10.0 * np.log10(total)
    energy_db -= energy_db.max()
    freqs = np.fft.rfftfreq(settings.n_fft, 1.0 / sr).astype(np.float32)
    centroid = (power @ freqs) / total
    spread = np.sqrt(np.maximum((power @ freqs**2) / total - centroid**2, 0.0))
    flatness = np.exp(np.log(np.maximum(power, 1e-10)).mean(1)) / (total / power.shape[1])
    high_share = power[:, freqs >= 1000].sum(1) / total  # spectral tilt: share of energy above 1 kHz
    zero_crossings = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
    semitones, strength = _pitch(frames, sr)
    voiced = (strength > VOICING_THRESHOLD) & (energy_db > -35.0)
    frame_rows = np.vstack([energy_db, centroid / 1000.0, spread / 1000.0, flatness, high_share,
                            zero_crossings, strength])
    # Voice quality over voiced frames: pitch, harmonics-to-noise ratio, frame-to-frame
    # level changes (a shimmer-like measure).
    hnr = 10.0 * np.log10(np.clip(strength, 1e-3, 0.999) / (1.0 - np.clip(strength, 1e-3, 0.999)))
    voiced_rows = np.vstack([semitones, hnr, np.concatenate([[0.0], np.abs(np.diff(energy_db))])])
    pitch_rows = voiced_rows[:, voiced] if voiced.sum() >= 3 else np.zeros((3, 3), np.float32)
    duration = len(samples) / sr
    summary = np.array([duration, voiced.mean(), np.log1p(_count_onsets(energy_db) / max(duration, 1e-3))])
    return np.concatenate([
        _stats(log_mel), _stats(mfcc), _stats(np.diff(mfcc, axis=1) if mfcc.shape[1] > 1 else mfcc),
        _stats(frame_rows), _stats(pitch_rows), _pitch_slope(semitones, voiced, sr / settings.hop_length), summary,
    ]).astype(np.float32)


def _pitch_slope(semitones: np.ndarray, voiced: np.ndarray, frames_per_s: float) -> np.ndarray:
    """Semitones per second over the voiced frames: rising or falling intonation."""
    index = np.flatnonzero(voiced)
    if len(index) < 3:
        return np.zeros(1)
    return np.array([np.polyfit(index, semitones[index], 1)[0] * frames_per_s])


def _count_onsets(energy_db: np.ndarray) -> int:
    """Rises of the energy through -20 dB: a rough syllable count for the speaking rate."""
    loud = energy_db > -20.0
    return int(np.sum(loud[1:] & ~loud[:-1]) + (loud[0] if len(loud) else 0))
