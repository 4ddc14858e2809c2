"""A pretrained voice encoder in NumPy: resemblyzer 0.1.4's GE2E speaker encoder.

40-band power-mel frames (25-ms window, 10-ms hop) go through three LSTM layers of 256
units; the last layer's final state, through a linear layer and a ReLU, is a 256-d speaker
embedding. The weights were trained by resemblyzer's authors on thousands of speakers; they
ship converted (tools/convert_resemblyzer.py) as plain float32 arrays in
``encoders/ge2e_resemblyzer.npz`` with their licence (Apache-2.0) and ``ORIGIN.json``.
No PyTorch: the LSTM is a few matrix products a frame.

For emotion, the speaker embedding itself is weak (its last layers are trained to keep
only identity); the frame outputs of the second LSTM layer, pooled over time, are strong
(`EncoderSettings`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_img.audio.signal import frame, mel_basis, power_spectrum, sigmoid

WEIGHTS = Path(__file__).resolve().parent.parent / "encoders" / "ge2e_resemblyzer.npz"
SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 40  # resemblyzer's hparams: 25-ms window, 10-ms step, 40 bands
HIDDEN, LAYERS = 256, 3
PARTIAL_FRAMES = 160  # resemblyzer's partial utterances: 1.6 s
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


def normalize_volume(samples: np.ndarray) -> np.ndarray:
    """Raise the clip's RMS to -30 dBFS (never lower it), as resemblyzer's preprocessing."""
    rms = np.sqrt(np.mean((samples.astype(np.float64) * INT16_MAX) ** 2))
    if rms <= 0:
        return samples
    change_db = TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    return samples if change_db < 0 else (samples * 10 ** (change_db / 20)).astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40).T:
    power mel frames (frames, 40), centred frames with zero padding."""
    padded = np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2)
    spectrum = power_spectrum(frame(padded, N_FFT, HOP))
    return (spectrum @ mel_basis(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2).T).astype(np.float32)


class VoiceEncoder:
    """The GE2E encoder's forward pass over batches of mel-frame sequences."""

    def __init__(self, weights: Path = WEIGHTS):
        with np.load(weights, allow_pickle=False) as data:
            arrays = {key: data[key].astype(np.float32) for key in data.files}
        # PyTorch's LSTM gate order is input, forget, cell, output; both biases are added.
        self.layers = [(arrays[f"lstm_weight_ih_l{k}"].T.copy(), arrays[f"lstm_weight_hh_l{k}"].T.copy(),
                        arrays[f"lstm_bias_ih_l{k}"] + arrays[f"lstm_bias_hh_l{k}"]) for k in range(LAYERS)]
        self.linear = (arrays["linear_weight"].T.copy(), arrays["linear_bias"])

    def layer_outputs(self, mels: np.ndarray, depth: int = LAYERS) -> list[np.ndarray]:
        """Frame outputs (batch, frames, 256) of the first `depth` LSTM layers, from a zero state.

        `mels` is (batch, frames, 40) or (frames, 40). Padding at the end of a shorter
        sequence never changes its earlier frames (the LSTM only looks back).
        """
        x = np.asarray(mels, dtype=np.float32)
        single = x.ndim == 2
        x = x[None] if single else x
        outputs = []
        for w_ih, w_hh, bias in self.layers[:depth]:
            x = self._run_layer(x, w_ih, w_hh, bias)
            outputs.append(x[0] if single else x)
        return outputs

    @staticmethod
    def _run_layer(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> np.ndarray:
        batch, steps, _ = x.shape
        projected = x @ w_ih + bias  # every frame's input contribution at once
        h = np.zeros((batch, HIDDEN), np.float32)
        c = np.zeros((batch, HIDDEN), np.float32)
        out = np.empty((batch, steps, HIDDEN), np.float32)
        for t in range(steps):
            gates = projected[:, t] + h @ w_hh
            i, f = sigmoid(gates[:, :HIDDEN]), sigmoid(gates[:, HIDDEN:2 * HIDDEN])
            g, o = np.tanh(gates[:, 2 * HIDDEN:3 * HIDDEN]), sigmoid(gates[:, 3 * HIDDEN:])
            c = f * c + i * g
            h = o * np.tanh(c)
            out[:, t] = h
        return out

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """Speaker embeddings (batch, 256) of equal-length mel sequences (batch, frames, 40):
        ReLU(linear(last layer's final state)), L2-normalised."""
        last = self.layer_outputs(mels)[-1][:, -1]
        raw = np.maximum(last @ self.linear[0] + self.linear[1], 0.0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)

    def embed_utterance(self, samples: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
        """resemblyzer's `embed_utterance`: 1.6-s partials at `rate` a second, embedded and
        averaged, then L2-normalised. `samples`: preprocessed 16-kHz audio."""
        slices = partial_slices(len(samples), rate, min_coverage)
        end = slices[-1].stop * HOP
        padded = np.pad(samples, (0, max(0, end - len(samples))))
        mel = mel_frames(padded)
        partials = self.embed_partials(np.stack([mel[s] for s in slices]))
        mean = partials.mean(axis=0)
        return mean / np.linalg.norm(mean)


def partial_slices(n_samples: int, rate: float, min_coverage: float) -> list[slice]:
    """Mel-frame slices of resemblyzer's partial utterances (compute_partial_slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / rate) / HOP))
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in starts]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    return slices[:-1] if coverage < min_coverage and len(slices) > 1 else slices


@functools.lru_cache(maxsize=1)
def shared_encoder() -> VoiceEncoder:
    """One encoder per process: its weights are read once."""
    return VoiceEncoder()


@dataclass(frozen=True)
class EncoderSettings:
    """Which frame outputs make the clip's vector: LSTM `layer` (1-3), mean and standard
    deviation over the clip's frames (2 x 256 values)."""

    layer: int = 2


def encoder_features(samples: np.ndarray, settings: EncoderSettings = EncoderSettings()) -> np.ndarray:
    """The clip's encoder vector (float32, 512): mean and std over time of LSTM layer
    `settings.layer`'s frame outputs, on the volume-normalised 16-kHz clip."""
    return encoder_features_batch([samples], settings)[0]


def encoder_features_batch(clips: list[np.ndarray], settings: EncoderSettings = EncoderSettings()) -> np.ndarray:
    """encoder_features of several clips at once (one LSTM pass over the padded batch)."""
    mels = [mel_frames(normalize_volume(np.asarray(c, dtype=np.float32))) for c in clips]
    longest = max(len(m) for m in mels)
    batch = np.stack([np.pad(m, ((0, longest - len(m)), (0, 0))) for m in mels])
    outputs = shared_encoder().layer_outputs(batch, depth=settings.layer)[-1]
    pooled = [np.concatenate([o[:len(m)].mean(axis=0), o[:len(m)].std(axis=0)]) for o, m in zip(outputs, mels)]
    return np.stack(pooled).astype(np.float32)


FEATURE_SIZE = 2 * HIDDEN
