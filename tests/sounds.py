"""Small synthetic and deliberately broken audio files, made inside each test's tmp_path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile


def tone(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 440.0, channels: int = 1,
         amplitude: float = 0.3) -> np.ndarray:
    """A sine, (frames,) for mono or (frames, channels) with the same tone on every channel."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    mono = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def encode(samples: np.ndarray, sample_rate: int, format: str = "WAV", subtype: str | None = None) -> bytes:
    """The file's bytes; skips the test where this libsndfile cannot write the format."""
    if subtype is not None and subtype not in soundfile.available_subtypes(format):
        pytest.skip(f"libsndfile {soundfile.__libsndfile_version__} has no {format}/{subtype}")
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, samples, sample_rate, format=format, subtype=subtype)
    except (soundfile.LibsndfileError, RuntimeError, ValueError):
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        pytest.skip(f"libsndfile cannot write {format}/{subtype} with {channels} channels at {sample_rate} Hz")
    return buffer.getvalue()


def write(path: Path, samples: np.ndarray, sample_rate: int, format: str = "WAV",
          subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(samples, sample_rate, format, subtype))
    return path


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[spectrum.argmax()])


def reference_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a reference `.npz` (tests/data), read without unpickling."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
