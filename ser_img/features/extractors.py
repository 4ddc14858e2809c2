"""Everything the model reads from a clip: its image and its feature vector.

The clip is trimmed of silence once; the image (`spectrogram`) and every extractor's
vector come from that one trimmed signal. An extractor is one entry in `EXTRACTORS`: its
name (the feature block members read), whether the render settings ask for it, its size
and the function that computes it. The feature vector is the enabled extractors' vectors
side by side; `feature_blocks` says which columns are which, from the render settings alone.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_img.audio.level import normalise_level
from ser_img.features import encoder, whisper
from ser_img.features.descriptors import descriptors
from ser_img.errors import UsageError
from ser_img.features.functionals import feature_count, functionals
from ser_img.audio.signal import centre
from ser_img.features.spectrogram import RenderSettings, log_mel, to_image, trim_silence
from ser_img.runtime.files import write_bytes_atomic

DESCRIPTOR_SIZE = 724


@dataclass(frozen=True)
class Extractor:
    """One feature source: `compute(trimmed clip, settings) -> vector` of `size(settings)` values,
    used when `enabled(settings)`; `files(settings)` are the data files it reads (they ship in the package);
    `compute_many(clips, settings) -> (n, size)` where doing several clips at once is cheaper."""

    name: str
    enabled: Callable[[RenderSettings], bool]
    size: Callable[[RenderSettings], int]
    compute: Callable[[np.ndarray, RenderSettings], np.ndarray]
    files: Callable[[RenderSettings], tuple[Path, ...]] = lambda s: ()
    compute_many: Callable[[list[np.ndarray], RenderSettings], np.ndarray] | None = None

    def many(self, clips: list[np.ndarray], settings: RenderSettings) -> np.ndarray:
        if self.compute_many is not None:
            return np.asarray(self.compute_many(clips, settings), dtype=np.float32)
        return np.stack([np.asarray(self.compute(c, settings), dtype=np.float32) for c in clips])


EXTRACTORS = (
    Extractor("desc", lambda s: True, lambda s: DESCRIPTOR_SIZE, descriptors),
    Extractor("smile", lambda s: bool(s.functionals), lambda s: feature_count(s.functionals),
              lambda x, s: functionals(x, s.sample_rate, s.functionals)),
    Extractor("enc", lambda s: s.encoder_layer > 0, lambda s: encoder.FEATURE_SIZE,
              lambda x, s: encoder.encoder_features(x, encoder.EncoderSettings(layer=s.encoder_layer)),
              files=lambda s: (encoder.WEIGHTS,),
              # one LSTM pass over a batch of clips costs about what one clip does alone
              compute_many=lambda xs, s: encoder.encoder_features_batch(xs, encoder.EncoderSettings(layer=s.encoder_layer))),
    Extractor("whisper", lambda s: bool(s.whisper_blocks), lambda s: whisper.feature_size(s.whisper_blocks),
              lambda x, s: whisper.whisper_features(x, s.whisper_blocks, precision=s.whisper_precision),
              files=lambda s: (whisper.LITE_WEIGHTS if s.whisper_precision == "int8" else whisper.WEIGHTS,),
              # clips of similar length share one padded pass through the blocks
              compute_many=lambda xs, s: whisper.whisper_features_batch(xs, s.whisper_blocks,
                                                                        precision=s.whisper_precision)),
)


def active_extractors(settings: RenderSettings) -> list[Extractor]:
    return [e for e in EXTRACTORS if e.enabled(settings)]


def render_inputs(samples: np.ndarray, settings: RenderSettings) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB image, float32 feature vector) of a mono clip at `settings.sample_rate`."""
    return render_inputs_batch([samples], settings)[0]


def render_inputs_batch(signals: list[np.ndarray], settings: RenderSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """`render_inputs` of several clips, each extractor run once over all of them."""
    trimmed = [levelled(trim_silence(np.asarray(s, dtype=np.float32), settings), settings) for s in signals]
    images = [to_image(log_mel(centre(t, settings.window_samples), settings), settings) for t in trimmed]
    blocks = [e.many(trimmed, settings) for e in active_extractors(settings)]
    return [(image, np.concatenate([b[i] for b in blocks])) for i, image in enumerate(images)]


def levelled(trimmed: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """The trimmed clip at the settings' active speech level, whatever its recording level."""
    return normalise_level(trimmed, settings.sample_rate, settings.level_dbfs) if settings.level_dbfs else trimmed


def feature_blocks(settings: RenderSettings) -> dict[str, slice]:
    """Columns of the feature vector, by extractor name ("desc", "smile", "enc", "whisper")."""
    blocks, start = {}, 0
    for extractor in active_extractors(settings):
        size = extractor.size(settings)
        blocks[extractor.name] = slice(start, start + size)
        start += size
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
