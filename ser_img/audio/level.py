"""Active speech level, after ITU-T P.56 (method B), and a two-sided level normalisation.

A whole file's RMS falls with every pause and its peak follows one plosive; the active
speech level is the level of the speech itself. P.56 (1993/2011, method B) measures it so:
the envelope is |x| smoothed twice by a first-order filter of 30 ms; for each threshold
c_j (2-dB steps over 96 dB; P.56 counts up from one 16-bit step, we count down from the
envelope's peak, so that the grid follows any gain exactly) a sample is *active* where the
envelope reaches c_j or did so within the last 200 ms (the hangover); A_j is the mean
power over the active samples. As c_j rises, A_j - c_j (in dB) falls; the active level is
A_j where that difference crosses the margin M = 15.9 dB (interpolated between the two
thresholds that straddle it). A tone burst amid silence measures its own RMS less what the
hangover and the envelope's decay add to its active time (about 0.3 s a pause: a 2-s
burst reads 0.6 dB low); speech with long pauses reads within a dB of the same speech
without them, where the whole-file RMS moves by the pauses' share (3 dB for half).

`normalise_level` scales a clip so that this level is the target, up or down: the same
clip at any gain comes out the same (up to rounding), unlike resemblyzer's increase-only
RMS normalisation. The output is not clipped: a loud target on a peaky clip may exceed
full scale, which the float features downstream read as is.

Pure NumPy/SciPy; any sample rate (the time constants are in seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

TIME_CONSTANT_S = 0.03  # P.56's envelope smoothing
HANGOVER_S = 0.2
MARGIN_DB = 15.9
THRESHOLD_STEP_DB = 2.0
RANGE_DB = 96.0  # thresholds span this far below the envelope's peak (16 bits' range, as P.56)
SILENCE_DBFS = -100.0  # a clip whose level is below this (or cannot be measured) is silence
DEFAULT_TARGET_DBFS = -26.0  # P.56 / ITU-T practice for a nominal speech level


@dataclass(frozen=True)
class SpeechLevel:
    """`level_dbfs`: active speech level, 10*log10 of the mean square over the active samples
    with 1.0 as full scale (dBov: a full-scale square wave is 0, a full-scale sine -3);
    `activity`: the share of the
    clip's samples counted active (0-1); `rms_dbfs`: the whole clip's mean-square level."""

    level_dbfs: float
    activity: float
    rms_dbfs: float


def _db(power: float | np.ndarray) -> float | np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-30))


def envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """P.56's envelope: |x| through two first-order smoothers of `TIME_CONSTANT_S`."""
    g = np.exp(-1.0 / (rate * TIME_CONSTANT_S))
    first = lfilter([1.0 - g], [1.0, -g], np.abs(samples))
    return lfilter([1.0 - g], [1.0, -g], first)


def held_envelope(env: np.ndarray, hangover: int) -> np.ndarray:
    """The envelope's maximum over each sample and the `hangover` samples before it: a sample
    is active for threshold c exactly when this reaches c (P.56's hangover counter)."""
    padded = np.concatenate([np.zeros(hangover), env])
    return maximum_filter1d(padded, size=hangover + 1, origin=hangover // 2)[hangover:]


def active_level(samples: np.ndarray, rate: int) -> SpeechLevel:
    """The clip's active speech level after P.56 method B (`SpeechLevel`).

    `samples`: mono float audio, full scale 1.0. A silent or empty clip gives
    `SILENCE_DBFS` with activity 0."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if len(x) == 0 or not np.any(x):
        return SpeechLevel(SILENCE_DBFS, 0.0, SILENCE_DBFS)
    squares = x * x
    rms_db = float(_db(squares.mean()))
    env = envelope(x, rate)
    held = held_envelope(env, int(round(HANGOVER_S * rate)))
    # The thresholds step down from the envelope's peak (P.56 steps up from one 16-bit
    # quantisation step): the same grid relative to the signal at any gain, so the measured
    # level follows a gain exactly, however quiet the clip.
    steps = int(RANGE_DB / THRESHOLD_STEP_DB) + 1
    thresholds_db = float(_db(held.max() ** 2)) - THRESHOLD_STEP_DB * np.arange(steps)[::-1]
    thresholds = 10.0 ** (thresholds_db / 20.0)
    reached = np.searchsorted(thresholds, held, side="right")  # thresholds each sample is active for
    counts = np.cumsum(np.bincount(reached, minlength=steps + 1)[::-1])[::-1][1:]
    powers = np.cumsum(np.bincount(reached, weights=squares, minlength=steps + 1)[::-1])[::-1][1:]
    valid = counts > 0
    a_db = np.where(valid, _db(powers / np.maximum(counts, 1)), -np.inf)
    diff = a_db - thresholds_db
    below = np.flatnonzero(valid & (diff <= MARGIN_DB))
    if len(below) == 0:  # the margin is never reached: the clip is (almost) all below the floor
        return SpeechLevel(SILENCE_DBFS, 0.0, rms_db)
    j = int(below[0])
    if j == 0:
        level, activity = a_db[0], counts[0] / len(x)
    else:
        span = diff[j - 1] - diff[j]
        frac = (diff[j - 1] - MARGIN_DB) / span if span > 0 else 0.0
        level = a_db[j - 1] + frac * (a_db[j] - a_db[j - 1])
        activity = (counts[j - 1] + frac * (counts[j] - counts[j - 1])) / len(x)
    if level < SILENCE_DBFS:
        return SpeechLevel(SILENCE_DBFS, 0.0, rms_db)
    return SpeechLevel(float(level), float(activity), rms_db)


def speech_level_dbfs(samples: np.ndarray, rate: int) -> float:
    """Just the active level in dBFS (`active_level(...).level_dbfs`)."""
    return active_level(samples, rate).level_dbfs


def normalise_level(samples: np.ndarray, rate: int, target_dbfs: float = DEFAULT_TARGET_DBFS) -> np.ndarray:
    """The clip scaled, up or down, so that its active speech level is `target_dbfs`.

    float32 out; a silent clip (level below `SILENCE_DBFS`) comes back unchanged."""
    x = np.asarray(samples, dtype=np.float32)
    level = active_level(x, rate).level_dbfs
    if level <= SILENCE_DBFS:
        return x.copy()
    return (x * np.float32(10.0 ** ((target_dbfs - level) / 20.0))).astype(np.float32)
