"""What a recording is like, beside what it says: how much speech it holds, and whether it is
outside what the model was measured on (narrowband, clipped, very quiet, noisy).

Pure functions of the decoded signal. The thresholds were measured with the shipped model
(experiments/input_quality.py; figures and commands in docs/trust.md), not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from ser_img.audio.level import SILENCE_DBFS, active_level
from ser_img.audio.decode import to_rate
from ser_img.speech.vad import CHUNK, RATE, speech_probabilities

FRAME_S = 0.016  # frames of 16 ms, as the recognizer's silence gate uses
# A frame is speech when it is within 40 dB of the loudest (the renderer's trim level) and
# above -90 dBFS: the model reads any level alike, so the floor only keeps out what a 16-bit
# file holds when nothing is there (its quantisation noise is -101 dBFS). At -80 dBFS, 6 %
# of RAVDESS clips 30 dB quieter were refused as speechless and 22 % warned (docs/trust.md).
SPEECH_FLOOR_DB = -90.0
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

# Warnings; docs/trust.md section 2 has the measurements behind each (RAVDESS 01-18, the
# shipped model's out-of-fold members, 75.2 % right clean; experiments/conditions_cv.py).
NARROWBAND_DB = -45.0  # energy above 4 kHz this far below the total (clean: -25 dB or more (p5);
#                        telephone line: -112 dB or less, 72.4 % right; 3-kHz low-pass 71.4 %)
CLIPPED_FRACTION = 0.0002  # samples within 0.1 % of a near-full-scale peak (clean peak-normalised:
#                            at most 0.00004; clipped by 1.5x: 0.0003 or more)
CLIP_LEVEL = 0.95  # "near full scale": a peak at least this high (the signal is at most 1)
QUIET_DBFS = -75.0  # active speech level (ITU-T P.56, audio.level) below this: in a 16-bit file,
#                     75-86 % right above -75 dBFS, 64 % at -80..-75, 35-51 % below (clean: -52 or more)
NOISY_SNR_DB = 8.0  # speech less than this above the median pause (VAD, below): 57 % right below,
#                     69.5 % above (RAVDESS under 15 conditions); no clean RAVDESS clip measures under it
# The SNR needs pauses to measure the noise in: with less than this much non-speech the
# clip gets no noise verdict at all.
MIN_PAUSE_S = 0.25
SPEECH_P, PAUSE_P = 0.5, 0.15  # the voice detector's P(speech) above / below which a chunk is speech / pause


@dataclass(frozen=True)
class Quality:
    speech_s: float  # seconds of 16-ms frames that hold speech (energy, not a voice detector)
    high_band_db: float  # energy above 4 kHz relative to the total, dB
    clipped_fraction: float  # part of the samples pinned at a near-full-scale peak
    speech_level_dbfs: float  # active speech level (ITU-T P.56's method, audio.level)
    snr_db: float | None  # speech over the noise in its pauses, dB; None without pauses to measure it in


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
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    clipped = float(np.mean(np.abs(samples) >= peak * 0.999)) if peak >= CLIP_LEVEL else 0.0
    return Quality(speech_s=speech_seconds(samples, sample_rate), high_band_db=_high_band_db(samples, sample_rate),
                   clipped_fraction=clipped, speech_level_dbfs=active_level(samples, sample_rate).level_dbfs,
                   snr_db=speech_to_noise_db(samples, sample_rate))


def speech_to_noise_db(samples: np.ndarray, sample_rate: int) -> float | None:
    """The signal-to-noise ratio in dB: the mean power of the chunks the voice detector
    (Silero) calls speech, less the noise, over the noise: the *median* power of the chunks it
    calls pauses, because the detector also calls some loud emotional speech (a shout, a sob)
    a pause, and a mean would take a few such chunks for a noise floor. None when there are
    under `MIN_PAUSE_S` of pauses (a clip trimmed tight says nothing of its noise), no speech,
    or pauses as loud as the speech (then the detector's labels say nothing); infinite over
    digital silence."""
    return snr_from_powers(*speech_and_pause_power(samples, sample_rate))


def snr_from_powers(speech: np.ndarray, pauses: np.ndarray, floor=np.median) -> float | None:
    """speech_to_noise_db from the chunks' powers, the noise floor taken by `floor` (the median;
    experiments/snr_estimators.py compares the mean)."""
    if len(pauses) * CHUNK / RATE < MIN_PAUSE_S or not len(speech):
        return None
    noise = float(floor(pauses))
    if noise <= 0:
        return float("inf")
    signal = float(np.mean(speech)) - noise
    return float(10.0 * np.log10(signal / noise)) if signal > 0 else None


def speech_and_pause_power(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean-square power of each 32-ms chunk the voice detector calls speech, and of each
    it calls a pause (the chunks in between are neither), at 16 kHz."""
    x = np.asarray(samples, np.float32)
    if sample_rate != RATE:
        x = to_rate(x, sample_rate, RATE).astype(np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > 0:
        x = x * np.float32(0.5 / peak)  # the detector hears faint speech as pause; the ratio is level-free
    p = speech_probabilities(x)
    count = min(len(p), len(x) // CHUNK)
    power = np.mean(x[: count * CHUNK].reshape(count, CHUNK).astype(np.float64) ** 2, axis=1)
    return power[p[:count] >= SPEECH_P], power[p[:count] < PAUSE_P]


def _high_band_db(samples: np.ndarray, sample_rate: int, split_hz: float = 4000.0) -> float:
    """Energy above `split_hz` relative to the total, in dB (-inf when there is none)."""
    if sample_rate <= 2 * split_hz or samples.size < 64:
        return float("-inf")
    size = scipy.fft.next_fast_len(samples.size, real=True)  # zero-padded: an odd length's FFT can cost 10x
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64), n=size)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
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
    if SILENCE_DBFS < quality.speech_level_dbfs < QUIET_DBFS:
        found.append(f"very low level (speech at {quality.speech_level_dbfs:.0f} dBFS; below {QUIET_DBFS:.0f} dBFS "
                     "a 16-bit recording's own noise costs accuracy)")
    if quality.snr_db is not None and quality.snr_db < NOISY_SNR_DB:
        found.append(f"background noise (speech about {quality.snr_db:.0f} dB above the noise in its pauses; "
                     f"expect lower accuracy below {NOISY_SNR_DB:.0f} dB)")
    return found
