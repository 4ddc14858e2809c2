"""Decoding audio files into mono float32 at one fixed sample rate.

Every way a file can be unusable ends in an AudioError whose message names the file
and says why in words; the outcomes are listed in the README's "Inputs and edge cases".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from .errors import AudioError, DecodeError
from .signal import SILENCE_PEAK  # below it (about -100 dBFS) a file holds no sound worth classifying

# Extensions picked up when a folder is searched; a file named directly is always tried.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}
)
# Source rates accepted: telephone speech up to high-resolution studio audio. Outside
# this range a rate is almost surely a broken header (and 1 Hz would "resample" a
# one-second file into hundreds of millions of samples).
MIN_SOURCE_RATE, MAX_SOURCE_RATE = 8000, 384000
# libsndfile's words for "these bytes are not audio it knows", whatever the extension.
_NOT_AUDIO = ("format not recognised", "not a regular file", "unsupported encoding", "unknown format")


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono float32 at `sample_rate`, finite, peak at most 1
    sample_rate: int
    source_rate: int
    duration_s: float  # of the source, before any trimming


def load_audio(path: Path, sample_rate: int) -> Audio:
    """Read any format libsndfile knows, mix to mono and resample with soxr."""
    path = Path(path)
    data, source_rate = _decode(path)
    if not MIN_SOURCE_RATE <= source_rate <= MAX_SOURCE_RATE:
        raise AudioError(f"{path}: sample rate {source_rate} Hz is outside the supported "
                         f"{MIN_SOURCE_RATE // 1000}-{MAX_SOURCE_RATE // 1000} kHz")
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    mono = _clean(data.mean(axis=1), path)
    # Resampling can overshoot full scale a little around clipped or damaged stretches.
    samples = np.clip(to_rate(mono, source_rate, sample_rate), -1.0, 1.0)
    if len(samples) == 0:
        raise AudioError(f"{path}: too short ({data.shape[0]} samples at {source_rate} Hz)")
    return Audio(samples=samples, sample_rate=sample_rate, source_rate=int(source_rate),
                 duration_s=data.shape[0] / source_rate)


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the file's rate, or an AudioError that says why."""
    _check_readable(path)
    try:
        data, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except DECODE_ERRORS as exc:
        raise decode_error(path, exc) from None
    return data, int(source_rate)


def _check_readable(path: Path) -> None:
    """Missing, folder, unreadable and empty files, told apart before libsndfile lumps them."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        with open(path, "rb") as handle:
            empty = handle.read(1) == b""
    except PermissionError:
        raise AudioError(f"{path}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if empty:
        raise AudioError(f"{path}: empty file (0 bytes)")


# What soundfile raises for a file it cannot decode.
DECODE_ERRORS = (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError)


def decode_error(path: Path, exc: Exception) -> DecodeError:
    """The one-line error for a file libsndfile cannot decode: its message without the
    "Error opening '...':" preamble, in plainer words."""
    text = str(exc).split(":")[-1].strip().rstrip(".")
    if any(words in text.lower() for words in _NOT_AUDIO):
        text = "not an audio file, or a format this libsndfile cannot read"
    return DecodeError(f"{path}: cannot decode audio ({text or type(exc).__name__})")


def _clean(mono: np.ndarray, path: Path) -> np.ndarray:
    """Finite samples with peak at most 1, or an AudioError for a file with no sound.

    NaN and infinite samples (broken float files) become silence. Float files may hold
    values far beyond full scale; scaling them down changes no image (rendering is
    relative to the clip's peak) but keeps the spectrum's power from overflowing.
    """
    finite = np.isfinite(mono)
    if not finite.any():
        raise AudioError(f"{path}: no valid samples (all are NaN or infinite)")
    mono = np.where(finite, mono, np.float32(0.0))
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise AudioError(f"{path}: silent (no sound above -100 dBFS)")
    return mono / np.float32(peak) if peak > 1.0 else mono


def to_rate(samples: np.ndarray, source_rate: int, sample_rate: int) -> np.ndarray:
    """Resample mono audio; soxr is both faster and cleaner than librosa's default path."""
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == sample_rate:
        return samples
    return soxr.resample(samples, source_rate, sample_rate, quality="HQ").astype(np.float32)
