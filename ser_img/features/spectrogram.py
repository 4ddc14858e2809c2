"""Audio to a resized RGB log-mel image, and the settings that define it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ser_img.audio.signal import SILENCE_PEAK as _SILENCE_PEAK
from ser_img.audio.signal import centre, frame, mel_basis, power_spectrum
from ser_img.errors import UsageError
from ser_img.runtime.files import write_bytes_atomic
from ser_img.speech.segmenter import get_segmenter
from ser_img.features.functionals import FEATURE_SETS

_COLORMAPS = {"viridis": cv2.COLORMAP_VIRIDIS, "magma": cv2.COLORMAP_MAGMA, "gray": None}


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides what image a clip becomes.

    Pad/crop policy: after trimming silence (``trim_db`` below the peak), a clip longer
    than ``window_s`` keeps its centre; a shorter one is centred and padded with silence.
    """

    sample_rate: int = 16000
    trim_db: float = 40.0
    window_s: float = 3.0
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    fmin: float = 50.0
    fmax: float = 8000.0
    dynamic_range_db: float = 80.0
    height: int = 128
    width: int = 128
    colormap: str = "viridis"
    # Version of ser_img.features.descriptors' recipe; a change re-renders, like any other setting.
    descriptor_version: int = 3  # 3: computed from the clip trimmed once, with the image
    # openSMILE feature set computed beside the descriptors ("" for none): off by default,
    # its member did not earn its cost once the voice encoder came (docs/results.md).
    functionals: str = ""
    # The pretrained voice encoder's LSTM layer whose frame outputs are pooled (0 for none).
    encoder_layer: int = 2
    # A simulated channel the clips go through before anything else ("" for none,
    # "telephone", or "mix": each clip under its own random recording condition,
    # ser_img.audio.conditions.training_copy, drawn from `condition_seed` and the clip's
    # name): for training copies only; a model always renders with "".
    channel: str = ""
    condition_seed: int = 0
    # The trimmed clip is brought to this active speech level (ITU-T P.56's idea,
    # ser_img.audio.level) before anything is computed from it, in training and prediction
    # alike, so that no member can read the recording's level (0: not levelled, as models
    # before it were).
    level_dbfs: float = -26.0
    # Whisper tiny.en's transformer blocks whose outputs are pooled (mean and standard
    # deviation over time) into the "whisper" feature block; () for none.
    whisper_blocks: tuple[int, ...] = (2, 3)
    # How Whisper runs: "int8" (its LiteRT conversion, blocks 1-3 only, 3x faster on a core)
    # or "float32" (the NumPy port, as every model before it did).
    whisper_precision: str = "int8"
    # How a clip is cut to its speech before anything is computed (ser_img.speech.segmenter):
    # "energy" (frames trim_db below the loudest dropped at either end) or "silero" (the
    # voice detector's first to last speech).
    segmenter: str = "energy"

    def __post_init__(self):
        if self.colormap not in _COLORMAPS:
            raise UsageError(f"unknown colour map {self.colormap!r}; choose from {sorted(_COLORMAPS)}")
        if min(self.sample_rate, self.n_fft, self.hop_length, self.n_mels, self.height, self.width) <= 0:
            raise UsageError("render sizes must be positive")
        if self.functionals and self.functionals not in FEATURE_SETS:
            raise UsageError(f"unknown openSMILE feature set {self.functionals!r}; choose from {', '.join(FEATURE_SETS)}")
        if self.channel not in ("", "telephone", "mix"):
            raise UsageError(f"unknown channel {self.channel!r}; choose telephone, mix or none")
        if not all(1 <= b <= 4 for b in self.whisper_blocks) or self.level_dbfs > 0:
            raise UsageError("whisper_blocks must be among 1-4 and level_dbfs at most 0 (0: not levelled)")
        if self.whisper_precision not in ("float32", "int8"):
            raise UsageError(f"unknown Whisper precision {self.whisper_precision!r}; choose float32 or int8")
        if self.whisper_precision == "int8" and 4 in self.whisper_blocks:
            raise UsageError("Whisper's block 4 is not in the int8 encoder: use whisper_precision float32 for it")
        if self.whisper_blocks and self.sample_rate != 16000:
            raise UsageError("the Whisper member needs a 16-kHz sample rate")
        if self.segmenter not in ("energy", "silero"):
            raise UsageError(f"unknown segmenter {self.segmenter!r}; choose energy or silero")
        if self.encoder_layer not in (0, 1, 2, 3):
            raise UsageError(f"encoder_layer must be 0 (none) or an LSTM layer 1-3, not {self.encoder_layer}")
        if self.encoder_layer and self.sample_rate != 16000:
            raise UsageError("the voice encoder needs a 16-kHz sample rate")
        if self.fmax > self.sample_rate / 2:
            raise UsageError(f"fmax {self.fmax} Hz is above the Nyquist rate of {self.sample_rate} Hz")

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        # Settings at the value every render had before they existed are left out: that
        # keeps the fingerprints of earlier renders and models, so nothing re-renders for them.
        for name, before in _BEFORE.items():
            if values[name] == before:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "RenderSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise UsageError(f"unknown render settings: {', '.join(sorted(unknown))}")
        values = {**_BEFORE, **values}
        return cls(**{**values, "whisper_blocks": tuple(values["whisper_blocks"])})

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))


# What renders did before each of these settings existed (RenderSettings.to_dict/from_dict).
_BEFORE = {"segmenter": "energy", "condition_seed": 0, "level_dbfs": 0.0, "whisper_blocks": (),
           "whisper_precision": "float32"}


def fit_window(samples: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Trim leading/trailing silence, then centre-crop or centre-pad to the window."""
    return centre(trim_silence(samples, settings), settings.window_samples)


def trim_silence(samples: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """The clip cut to its speech by the settings' segmenter (ser_img.speech.segmenter)."""
    return get_segmenter(settings.segmenter).trim(samples, settings)


def log_mel(samples: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Log-mel power in [0, 1]: 0 is `dynamic_range_db` below the clip's peak, 1 the peak.

    A centred, reflect-padded periodic-Hann STFT (as librosa's), in plain NumPy so that no
    JIT compilation runs on first use.
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    half = settings.n_fft // 2
    padded = np.pad(samples, half, mode="reflect" if len(samples) > half else "constant")
    power = power_spectrum(frame(padded, settings.n_fft, settings.hop_length))
    basis = mel_basis(settings.sample_rate, settings.n_fft, settings.n_mels, settings.fmin, settings.fmax)
    mel = basis @ power.T  # (n_mels, frames)
    peak = mel.max()
    if np.abs(samples).max(initial=0.0) < _SILENCE_PEAK or peak <= 0:
        return np.zeros_like(mel)
    db = 10.0 * np.log10(np.maximum(mel, peak * 1e-12) / peak)
    level = (db + settings.dynamic_range_db) / settings.dynamic_range_db
    return np.clip(level, 0.0, 1.0).astype(np.float32)


def to_image(level: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Resize a [0, 1] mel matrix and colour it: uint8 RGB, low frequencies at the bottom.

    Resizing the single channel before colouring keeps every pixel on the colour map.
    """
    grey = cv2.resize(level[::-1], (settings.width, settings.height), interpolation=cv2.INTER_AREA)
    grey = np.clip(np.rint(grey * 255.0), 0, 255).astype(np.uint8)
    colormap = _COLORMAPS[settings.colormap]
    if colormap is None:
        return np.repeat(grey[:, :, None], 3, axis=2)
    return cv2.applyColorMap(grey, colormap)[:, :, ::-1].copy()


def render(samples: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Mono audio at `settings.sample_rate` to the model's input image."""
    return to_image(log_mel(fit_window(samples, settings), settings), settings)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", rgb[:, :, ::-1])
    if not ok:
        raise OSError("PNG encoding failed")
    return encoded.tobytes()


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write atomically: a killed run never leaves a truncated image under the final name."""
    write_bytes_atomic(Path(path), encode_png(rgb))


def read_png(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UsageError(f"{path}: not a readable image")
    return bgr[:, :, ::-1].copy()
