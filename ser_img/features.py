"""Everything the model reads from a clip: its image and its feature vector.

The clip is trimmed of silence once; the image (`spectrogram`), the hand-written
`descriptors` and the openSMILE `functionals` are all computed from that one trimmed
signal. The feature vector is the descriptors followed by the functionals;
`feature_blocks` says which columns are which, from the render settings alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .descriptors import descriptors
from .errors import UsageError
from .functionals import feature_count, functionals
from .signal import centre
from .spectrogram import RenderSettings, log_mel, to_image, trim_silence, write_bytes_atomic

DESCRIPTOR_SIZE = 724


def render_inputs(samples: np.ndarray, settings: RenderSettings) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB image, float32 feature vector) of a mono clip at `settings.sample_rate`."""
    trimmed = trim_silence(np.asarray(samples, dtype=np.float32), settings)
    image = to_image(log_mel(centre(trimmed, settings.window_samples), settings), settings)
    parts = [descriptors(trimmed, settings)]
    if settings.functionals:
        parts.append(functionals(trimmed, settings.sample_rate, settings.functionals))
    return image, np.concatenate(parts)


def feature_blocks(settings: RenderSettings) -> dict[str, slice]:
    """Columns of the feature vector: "desc" (descriptors) and "smile" (openSMILE functionals)."""
    blocks = {"desc": slice(0, DESCRIPTOR_SIZE)}
    if settings.functionals:
        blocks["smile"] = slice(DESCRIPTOR_SIZE, DESCRIPTOR_SIZE + feature_count(settings.functionals))
    return blocks


def feature_path(image_path: Path) -> Path:
    """Where render keeps a clip's feature vector: beside its image, as a NumPy array."""
    return Path(image_path).with_suffix(".npy")


def write_features(image_path: Path, values: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values, dtype=np.float32), allow_pickle=False)
    write_bytes_atomic(feature_path(image_path), buffer.getvalue())


def read_features(image_path: Path) -> np.ndarray:
    path = feature_path(image_path)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable features ({exc}); re-render with --force") from None
