"""What a recording is like, beside what it says: how much speech it holds, and whether it is
outside what the model was measured on (narrowband, clipped, very quiet, noisy).

Pure functions of the decoded signal. The thresholds were measured with the shipped model
(experiments/input_quality.py; figures and commands in docs/trust.md), not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_S = 0.016  # frames of 16 ms, as the recognizer's silence gate uses
# A frame is speech when it is within 40 dB of the loudest (the renderer's trim level) and
# above -80 dBFS: speech peaking at -65 dBFS is still judged well (docs/trust.md), so the
# floor sits below it, at the bottom of the image's 80-dB range.
SPEECH_FLOOR_DB = -80.0
SPEECH_BELOW_PEAK_DB = 40.0
# A sound whose frames stay within this many dB of each other (95th against 10th percentile)
# is steady (hum, hiss, a tone): no syllables, so no speech. Speech under white noise at
# 0 dB SNR still spans 5.6 dB or more (5th percentile), steady noise about 1 dB.
STEADY_SPREAD_DB = 3.0

# Below this much speech the model's answer is no better than a guess: 0.1-0.3 s of speech
# gave 9-12 % right (chance 12.5 %), 0.5 s 19 %, 0.74 s 34 %, 1 s 51 %, whole clips 99 %
# (docs/trust.md). Up to LITTLE_SPEECH_S, an answer comes with a warning that it is weak.
MIN_SPEECH_S = 0.5
LITTLE_SPEECH_S = 1.0

# Warnings; docs/trust.md has the measurements behind each (96 RAVDESS clips, shipped model:
# 97.5 % right clean).
NARROWBAND_DB = -45.0  # energy above 4 kHz this far below the total (clean: -23 dB or more;
#                        8-kHz telephone: -83 dB or less, 45 % right)
CLIPPED_FRACTION = 0.0002  # samples within 0.1 % of a near-full-scale peak (clean peak-normalised:
#                            at most 0.00004; clipped by 1.5x, 33 % right: 0.0003 or more)
CLIP_LEVEL = 0.95  # "near full scale": a peak at least this high (the signal is at most 1)
QUIET_DBFS = -45.0  # loudest 16-ms frame below this (at -38 dBFS still 97.5 % right, at -53 68 %)
NOISY_SNR_DB = 42.0  # loud frames less than this above quiet ones (clean: 47 dB or more; white
#                      noise at 30 dB SNR, 52 % right: 37 dB or less)


@dataclass(frozen=True)
class Quality:
    speech_s: float  # seconds of 16-ms frames that hold speech (energy, not a voice detector)
    high_band_db: float  # energy above 4 kHz relative to the total, dB
    clipped_fraction: float  # part of the samples pinned at a near-full-scale peak
    loudest_dbfs: float  # RMS of the loudest 16-ms frame
    snr_db: float  # loud frames (95th percentile) over quiet ones (10th percentile), dB


def frame_levels(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level in dBFS of each 16-ms frame (-inf for digital silence)."""
    frame = max(1, int(FRAME_S * sample_rate))
    count = len(samples) // frame
    if count == 0:
        frames = samples[None, :].astype(np.float64)
    else:
        frames = samples[: count * frame].reshape(count, frame).astype(np.float64)
    power = np.mean(frames**2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power)


def speech_seconds(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds of frames loud enough to be speech (above -80 dBFS and within 40 dB of the
    loudest); none in a steady sound."""
    levels = frame_levels(samples, sample_rate)
    finite = levels[np.isfinite(levels)]
    if finite.size == 0 or _spread(finite) < STEADY_SPREAD_DB:
        return 0.0
    floor = max(SPEECH_FLOOR_DB, float(finite.max()) - SPEECH_BELOW_PEAK_DB)
    frame_s = min(FRAME_S, len(samples) / sample_rate)
    return round(float(np.count_nonzero(levels >= floor)) * frame_s, 3)


def _spread(levels: np.ndarray) -> float:
    """Loud frames (95th percentile) over quiet ones (10th), dB; infinite under 10 frames (no basis)."""
    return float(np.percentile(levels, 95) - np.percentile(levels, 10)) if levels.size >= 10 else float("inf")


def measure(samples: np.ndarray, sample_rate: int) -> Quality:
    levels = frame_levels(samples, sample_rate)
    finite = levels[np.isfinite(levels)]
    loudest = float(finite.max()) if finite.size else float("-inf")
    snr = _spread(finite)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    clipped = float(np.mean(np.abs(samples) >= peak * 0.999)) if peak >= CLIP_LEVEL else 0.0
    return Quality(speech_s=speech_seconds(samples, sample_rate), high_band_db=_high_band_db(samples, sample_rate),
                   clipped_fraction=clipped, loudest_dbfs=loudest, snr_db=snr)


def _high_band_db(samples: np.ndarray, sample_rate: int, split_hz: float = 4000.0) -> float:
    """Energy above `split_hz` relative to the total, in dB (-inf when there is none)."""
    if sample_rate <= 2 * split_hz or samples.size < 64:
        return float("-inf")
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1.0 / sample_rate)
    total = float(spectrum.sum())
    high = float(spectrum[freqs >= split_hz].sum())
    if total <= 0 or high <= 0:
        return float("-inf")
    return 10.0 * np.log10(high / total)


def warnings_for(quality: Quality, source_rate: int | None = None) -> list[str]:
    """Plain-words warnings for input outside what the model was measured on."""
    found = []
    if MIN_SPEECH_S <= quality.speech_s < LITTLE_SPEECH_S:
        found.append(f"little speech ({quality.speech_s:.1f} s): with under {LITTLE_SPEECH_S:g} s of speech the "
                     "model is right a fifth to a half of the time")
    if (source_rate is not None and source_rate < 16000) or quality.high_band_db < NARROWBAND_DB:
        found.append("narrowband audio (nothing above 4 kHz, like a telephone line): expect lower accuracy "
                     "than on full-band speech")
    if quality.clipped_fraction >= CLIPPED_FRACTION:
        found.append(f"clipped audio ({quality.clipped_fraction:.1%} of the samples at full scale)")
    if quality.loudest_dbfs < QUIET_DBFS:
        found.append(f"very low level (loudest stretch {quality.loudest_dbfs:.0f} dBFS)")
    if quality.snr_db < NOISY_SNR_DB:
        found.append(f"background noise (speech about {quality.snr_db:.0f} dB above it; the model was measured "
                     f"on studio recordings, {NOISY_SNR_DB:.0f} dB or more)")
    return found
