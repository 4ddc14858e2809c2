"""The plain per-file way to render a spectrogram image, as most scripts do it.

librosa.load with its default resampler, librosa's trim, melspectrogram and power_to_db,
a matplotlib-style colour map through Pillow, a Pillow resize and a Pillow PNG. The
benchmark runs it with one process per core on the same files as `ser-img render`.
"""

from pathlib import Path

import librosa
import numpy as np
from PIL import Image

SR, WINDOW_S, N_FFT, HOP, N_MELS, SIZE = 16000, 3.0, 1024, 256, 128, 128


def _viridis_table() -> np.ndarray:
    import cv2

    return cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_VIRIDIS)[:, 0, ::-1]


def plain_render(job: tuple[str, str]) -> None:
    source, target = job
    y, _ = librosa.load(source, sr=SR)
    y, _ = librosa.effects.trim(y, top_db=40)
    y = librosa.util.fix_length(y, size=int(SR * WINDOW_S))
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, fmin=50, fmax=8000)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80)
    grey = np.uint8(np.clip((db + 80) / 80, 0, 1)[::-1] * 255)
    rgb = _viridis_table()[grey]
    Image.fromarray(rgb).resize((SIZE, SIZE), Image.BILINEAR).save(Path(target))
