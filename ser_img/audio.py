"""Decoding audio files into mono float32 at one fixed sample rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from .errors import AudioError

# Extensions picked up when a folder is searched; a file named directly is always tried.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}
)


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    source_rate: int
    duration_s: float  # of the source, before any trimming


def load_audio(path: Path, sample_rate: int) -> Audio:
    """Read any format libsndfile knows, mix to mono and resample with soxr."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        data, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except PermissionError:
        raise AudioError(f"{path}: permission denied") from None
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).split(":")[-1].strip() or type(exc).__name__
        raise AudioError(f"{path}: cannot decode audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    mono = np.nan_to_num(data.mean(axis=1), nan=0.0, posinf=0.0, neginf=0.0)
    return Audio(
        samples=to_rate(mono, source_rate, sample_rate),
        sample_rate=sample_rate,
        source_rate=int(source_rate),
        duration_s=data.shape[0] / source_rate,
    )


def to_rate(samples: np.ndarray, source_rate: int, sample_rate: int) -> np.ndarray:
    """Resample mono audio; soxr is both faster and cleaner than librosa's default path."""
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == sample_rate:
        return samples
    return soxr.resample(samples, source_rate, sample_rate, quality="HQ").astype(np.float32)
