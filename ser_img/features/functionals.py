"""openSMILE functionals of a clip: the field's standard acoustic feature sets.

ComParE_2016 (6,373 statistics of energy, spectral, cepstral and voicing descriptors) is
the default: on RAVDESS actors 01-18 a logistic regression on it scores 0.569 in
speaker-grouped CV against 0.491 for eGeMAPSv02, at about the same cost (37 ms a 3.7-s
clip at 16 kHz, one core; experiments/functionals.py). It runs on the same trimmed
16-kHz signal the image is rendered from.
"""

from __future__ import annotations

import functools
import threading
import warnings

import numpy as np

FEATURE_SETS = ("ComParE_2016", "eGeMAPSv02")
MIN_SECONDS = 0.5  # openSMILE returns NaN for shorter input: such clips are centred in silence
_local = threading.local()  # an openSMILE instance is not safe to share between threads


def _smile(feature_set: str):
    cache = _local.__dict__.setdefault("smiles", {})
    if feature_set not in cache:
        import opensmile

        cache[feature_set] = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                                             feature_level=opensmile.FeatureLevel.Functionals)
    return cache[feature_set]


@functools.lru_cache(maxsize=4)
def feature_count(feature_set: str) -> int:
    return len(_smile(feature_set).feature_names)


def functionals(samples: np.ndarray, sample_rate: int, feature_set: str) -> np.ndarray:
    """The feature set's functionals (float32 vector) of a trimmed mono clip."""
    samples = np.asarray(samples, dtype=np.float32)
    shortest = int(MIN_SECONDS * sample_rate)
    if len(samples) < shortest:
        before = (shortest - len(samples)) // 2
        samples = np.pad(samples, (before, shortest - len(samples) - before))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "segment too short": handled above and below
        values = _smile(feature_set)(samples, sample_rate).reshape(-1)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
