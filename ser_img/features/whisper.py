"""The first blocks of OpenAI's Whisper tiny.en encoder, in NumPy, as an emotion feature.

Whisper's log-mel front end (16 kHz, 25-ms Hann window, 10-ms hop, 80 Slaney mel bands,
log10 with an 80-dB range, scaled by (x + 4) / 4) feeds a conv stem (two GELU conv1d layers,
the second of stride 2: 20 ms a position), the stored sinusoidal position embedding and
four pre-LayerNorm transformer blocks (384 wide, 6 heads of 64, a 1536-unit exact-GELU MLP).
The mean and standard deviation over time of blocks 2 and 3 (`whisper_features`, 1,536
values) carry much of a clip's emotion: the middle blocks still keep prosody and voice
quality that the last ones, trained for transcription, give up.

Blocks are numbered from 1 (block k is CTranslate2's `layer_{k-1}`, Hugging Face's
`hidden_states[k]`). Unlike Whisper's transcriber, the clip is NOT padded to 30 s: the
encoder runs on its own frames, with the position embedding cut to its length, so a 3-s
clip costs a tenth of a 30-s window and padding cannot dilute its statistics. The weights
(fp16 as stored, upcast to float32) ship in ``encoders/whisper_tiny_en_encoder.npz``,
extracted by tools/convert_whisper_tiny.py from SYSTRAN's CTranslate2 conversion, with
OpenAI's MIT licence (``LICENSE-whisper``) and ``ORIGIN-whisper-tiny-en.json``.

The same stem and blocks 1-3 also ship as an int8 LiteRT model
(``encoders/whisper_tiny_en_blocks123_int8.tflite``, tools/convert_whisper_lite.py): the render
setting ``whisper_precision`` says which one a model reads ("int8", 3.6x faster on a core,
for every model since; "float32" for the models before it).

Self-contained (its own mel filterbank) so that it does not depend on where the package's
signal helpers live.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ser_img.runtime.quiet import muted

WEIGHTS = Path(__file__).resolve().parent.parent / "encoders" / "whisper_tiny_en_encoder.npz"
# The same stem and blocks 1-3 in int8 for LiteRT (tools/convert_whisper_lite.py): 3x faster
LITE_WEIGHTS = WEIGHTS.parent / "whisper_tiny_en_blocks123_int8.tflite"
LITE_LAST_BLOCK = 3
PRECISIONS = ("float32", "int8")
SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 80
WIDTH, HEADS, BLOCKS = 384, 6, 4
HEAD_WIDTH = WIDTH // HEADS
MAX_FRAMES = 3000  # 30 s: the position embedding has 1500 positions after the stride-2 conv
MIN_SAMPLES = N_FFT  # shorter clips are padded with silence to one window (2 frames)
LAYER_NORM_EPS = 1e-5
DEFAULT_BLOCKS = (2, 3)
BATCH_FRAMES = 1600  # mel frames a padded pass: 16 s of audio, e.g. sixteen 1-s clips or five 3-s ones


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, hz / (200.0 / 3))


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), mel * 200.0 / 3)


@functools.lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(80, 201) Slaney-normalised triangles from 0 Hz to 8 kHz: whisper's mel_filters.npz,
    which is librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)."""
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(np.array(SAMPLE_RATE / 2.0)), N_MELS + 2))
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / np.diff(edges)[:-1, None]
    upper = ramps[2:] / np.diff(edges)[1:, None]
    triangles = np.maximum(0.0, np.minimum(lower, upper))
    return (triangles * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Whisper's log_mel_spectrogram of the unpadded clip: (len // 160, 80) float32.

    As torch.stft(center=True): reflect-padded by 200 samples, periodic Hann window; the
    last frame is dropped as Whisper does. The floor, 80 dB (8 log10 units) below the
    loudest bin, is the clip's own, so its features depend on nothing else.
    `samples`: mono float audio at 16 kHz; a clip shorter than 25 ms is padded with silence.
    """
    samples = np.asarray(samples, dtype=np.float32).ravel()
    samples = np.pad(samples, (0, max(0, MIN_SAMPLES - len(samples))))
    padded = np.pad(samples, N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP - 1  # Whisper drops the last STFT frame
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    log_spec = np.log10(np.maximum(power.astype(np.float32) @ mel_filters().T, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def encoded_length(frames: int) -> int:
    """Encoder positions for `frames` mel frames: the stride-2 conv halves them, rounding up."""
    return (frames - 1) // 2 + 1


GELU_CHUNK = 32768  # values a pass: the erf's dozen passes stay in the core's cache (2.2x faster)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as torch.nn.GELU() in Whisper: the tanh approximation would move
    the encoder's output by 2e-2, a thousand times the port's error. erf is Abramowitz and
    Stegun's 7.1.26 (absolute error under 1.5e-7, float32's own resolution near 1): a third
    of the time of scipy's erf, which was a third of the encoder's. Computed GELU_CHUNK
    values at a time: the same values, without a dozen trips through main memory."""
    x = np.ascontiguousarray(x)
    if x.size <= GELU_CHUNK:
        return _gelu(x)
    out = np.empty_like(x)
    flat, into = x.reshape(-1), out.reshape(-1)
    for start in range(0, flat.size, GELU_CHUNK):
        into[start:start + GELU_CHUNK] = _gelu(flat[start:start + GELU_CHUNK])
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    magnitude = np.abs(x) * np.float32(1.0 / np.sqrt(2.0))
    t = np.float32(1.0) / (np.float32(_ERF_P) * magnitude + np.float32(1.0))
    poly = np.float32(_ERF_A[4]) * t
    for a in _ERF_A[3::-1]:
        poly += np.float32(a)
        poly *= t
    np.square(magnitude, out=magnitude)
    np.negative(magnitude, out=magnitude)
    np.exp(magnitude, out=magnitude)
    poly *= magnitude  # 1 - erf(|x| / sqrt 2)
    erf = np.copysign(np.float32(1.0) - poly, x)
    erf += np.float32(1.0)
    erf *= x
    erf *= np.float32(0.5)
    return erf


_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """torch.nn.LayerNorm over the last axis (eps 1e-5); two-pass variance for float32."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(variance + LAYER_NORM_EPS) * gamma + beta


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Kernel-3 conv over time with one zero frame each side, as one matrix product:
    x (batch, time, in), weight (out, in * 3) laid out as torch's (out, in, 3)."""
    batch, steps, _ = x.shape
    out_steps = (steps - 1) // stride + 1
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    taps = [padded[:, k:k + stride * (out_steps - 1) + 1:stride] for k in range(3)]
    return linear(np.stack(taps, axis=-1).reshape(batch, out_steps, -1), weight, bias)


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x @ weight.T + bias over the last axis, as one 2-D product (one BLAS call for the
    whole batch rather than one per clip)."""
    flat = x.reshape(-1, x.shape[-1]) @ weight.T
    flat += bias
    return flat.reshape(*x.shape[:-1], -1)


class WhisperEncoder:
    """Whisper tiny.en's encoder over one clip or a zero-padded batch of clips."""

    def __init__(self, weights: Path = WEIGHTS):
        with np.load(weights, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if int(arrays.pop("num_heads")) != HEADS:
            raise ValueError(f"{weights}: not Whisper tiny's 6-head encoder")
        w = {key: value.astype(np.float32) for key, value in arrays.items()}
        self.conv1 = (w["conv1_weight"].reshape(WIDTH, -1), w["conv1_bias"])
        self.conv2 = (w["conv2_weight"].reshape(WIDTH, -1), w["conv2_bias"])
        self.positions = w["position_encodings_encodings"]
        self.blocks = [{name: w[f"layer_{k}_{name}"] for name in _BLOCK_ARRAYS} for k in range(BLOCKS)]
        self.final_norm = (w["layer_norm_gamma"], w["layer_norm_beta"])

    log_mel = staticmethod(log_mel)

    def block_outputs(self, mel: np.ndarray, last_block: int = 3) -> list[np.ndarray]:
        """Outputs (T, 384) of blocks 1..`last_block` for one clip's log-mel (frames, 80);
        later blocks are not computed. T = encoded_length(frames)."""
        return [outputs[0] for outputs in self._run([mel], last_block)[0]]

    def block_outputs_batch(self, mels: Sequence[np.ndarray], last_block: int = 3) -> list[list[np.ndarray]]:
        """block_outputs of several clips in one padded pass: result[clip][block - 1].
        Padding is masked (conv stem and attention), so a clip's outputs match it alone."""
        per_block, lengths = self._run(mels, last_block)
        return [[block[i, :n] for block in per_block] for i, n in enumerate(lengths)]

    def encode(self, mel: np.ndarray) -> np.ndarray:
        """The whole encoder (4 blocks and the final LayerNorm) on one clip: (T, 384), what
        CTranslate2's Whisper.encode returns for the same unpadded log-mel."""
        last = self.block_outputs(mel, last_block=BLOCKS)[-1]
        return layer_norm(last, *self.final_norm)

    def _run(self, mels: Sequence[np.ndarray], last_block: int) -> tuple[list[np.ndarray], list[int]]:
        """Blocks 1..last_block over the batch: (list of (batch, T, 384), valid lengths)."""
        if not 1 <= last_block <= BLOCKS:
            raise ValueError(f"last_block must be 1..{BLOCKS}, not {last_block}")
        x, lengths = self._stem(mels)
        valid = np.arange(x.shape[1])[None, :] < np.array(lengths)[:, None]
        mask = np.where(valid, np.float32(0.0), np.float32(-np.inf))[:, None, None, :]
        outputs = []
        for block in self.blocks[:last_block]:
            x = self._block(x, block, mask)
            outputs.append(x)
        return outputs, lengths

    def _stem(self, mels: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        """Conv stem and position embedding. Frames past a clip's end are zeroed after the
        first conv, so the stride-2 conv sees there what the clip alone sees: its zero padding."""
        frames = [len(m) for m in mels]
        if min(frames) < 1 or max(frames) > MAX_FRAMES:
            raise ValueError(f"a log-mel needs 1..{MAX_FRAMES} frames (30 s), got {min(frames)}..{max(frames)}")
        batch = np.zeros((len(mels), max(frames), N_MELS), np.float32)
        for i, m in enumerate(mels):
            batch[i, :len(m)] = m
        x = gelu(conv1d(batch, *self.conv1, stride=1))
        x[np.arange(x.shape[1])[None, :] >= np.array(frames)[:, None]] = 0.0
        x = gelu(conv1d(x, *self.conv2, stride=2))
        return x + self.positions[:x.shape[1]], [encoded_length(n) for n in frames]

    def _block(self, x: np.ndarray, w: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        """A pre-LN residual block: x + attention(LN(x)), then + MLP(LN(x))."""
        normed = layer_norm(x, w["self_attention_layer_norm_gamma"], w["self_attention_layer_norm_beta"])
        x = x + self._attention(normed, w, mask)
        normed = layer_norm(x, w["ffn_layer_norm_gamma"], w["ffn_layer_norm_beta"])
        hidden = gelu(linear(normed, w["ffn_linear_0_weight"], w["ffn_linear_0_bias"]))
        return x + linear(hidden, w["ffn_linear_1_weight"], w["ffn_linear_1_bias"])

    @staticmethod
    def _attention(x: np.ndarray, w: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        """6-head self-attention; the fused q|k|v projection is CTranslate2's `linear_0`
        (Whisper's key projection has no bias: its third of the bias is zero). Padded keys
        get -inf, so they weigh exactly nothing."""
        batch, steps, _ = x.shape
        qkv = linear(x, w["self_attention_linear_0_weight"], w["self_attention_linear_0_bias"])
        q, k, v = qkv.reshape(batch, steps, 3, HEADS, HEAD_WIDTH).transpose(2, 0, 3, 1, 4)
        context = np.empty((batch, HEADS, steps, HEAD_WIDTH), np.float32)
        for i in range(batch):  # one clip's scores at a time stay in the cache
            scores = (q[i] * np.float32(HEAD_WIDTH ** -0.5)) @ k[i].transpose(0, 2, 1)
            scores += mask[i]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context[i] = scores @ v[i]
        merged = context.transpose(0, 2, 1, 3).reshape(batch, steps, WIDTH)
        return linear(merged, w["self_attention_linear_1_weight"], w["self_attention_linear_1_bias"])


_BLOCK_ARRAYS = [f"{part}_{name}" for part in ("self_attention", "ffn")
                 for name in ("layer_norm_gamma", "layer_norm_beta", "linear_0_weight", "linear_0_bias",
                              "linear_1_weight", "linear_1_bias")]


@functools.lru_cache(maxsize=1)
def shared_whisper_encoder() -> WhisperEncoder:
    """One encoder per process: its 16 MB of weights are read once."""
    return WhisperEncoder()


class LiteWhisperEncoder:
    """Blocks 1-3 of the int8 LiteRT conversion, with WhisperEncoder.block_outputs_batch's
    answer. One thread: like BLAS in the workers, the cores are the processes'."""

    def __init__(self, weights: Path = LITE_WEIGHTS):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(weights), num_threads=1)
        inputs = {d["name"]: d["index"] for d in self._interpreter.get_input_details()}
        self._mel, self._frames = inputs["mel"], inputs["frames"]
        # blocks 1, 2, 3 are the converted function's outputs Identity, Identity_1, Identity_2
        named = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        self._outputs = [named["Identity"], named["Identity_1"], named["Identity_2"]]
        self._frames_planned = 0
        self._lock = threading.Lock()  # one interpreter, one caller at a time (the server's threads)

    def block_outputs_batch(self, mels: Sequence[np.ndarray], last_block: int = LITE_LAST_BLOCK) -> list[list[np.ndarray]]:
        """One clip a call: the int8 activations are scaled over everything in a call, so
        padding beside a longer clip would move a clip's outputs (by 1e-3); alone, a clip
        gives the same values whatever else is scored, and it is no slower."""
        if not 1 <= last_block <= LITE_LAST_BLOCK:
            raise ValueError(f"the int8 encoder has blocks 1..{LITE_LAST_BLOCK}, not {last_block}")
        with self._lock:
            return [self._one(np.asarray(mel, np.float32), last_block) for mel in mels]

    def _one(self, mel: np.ndarray, last_block: int) -> list[np.ndarray]:
        if len(mel) != self._frames_planned:  # a new plan only when the length changes
            self._interpreter.resize_tensor_input(self._mel, (1, *mel.shape))
            self._interpreter.resize_tensor_input(self._frames, (1,))
            with muted(2):  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self._interpreter.allocate_tensors()
            self._frames_planned = len(mel)
        self._interpreter.set_tensor(self._mel, mel[None])
        self._interpreter.set_tensor(self._frames, np.array([len(mel)], np.int32))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index)[0].copy() for index in self._outputs[:last_block]]


@functools.lru_cache(maxsize=1)
def shared_lite_encoder() -> LiteWhisperEncoder:
    return LiteWhisperEncoder()


def encoder_for(precision: str, last_block: int):
    """The encoder that computes blocks up to `last_block` at `precision` ("float32": the
    NumPy port; "int8": the LiteRT conversion, which stops at block 3)."""
    if precision not in PRECISIONS:
        raise ValueError(f"Whisper precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "int8":
        if last_block > LITE_LAST_BLOCK:
            raise ValueError(f"the int8 Whisper encoder stops at block {LITE_LAST_BLOCK}; block {last_block} needs float32")
        return shared_lite_encoder()
    return shared_whisper_encoder()


def whisper_features(samples: np.ndarray, blocks: Sequence[int] = DEFAULT_BLOCKS, precision: str = "float32") -> np.ndarray:
    """The clip's Whisper vector (float32, 768 per block): for each of `blocks` in the
    order given, the mean then the standard deviation over time of its outputs.

    `samples`: mono float audio at 16 kHz. A clip longer than 30 s is cut into 30-s windows
    (each its own log-mel) and the statistics pool all their positions. Silence or an
    empty clip gives finite features (those of a constant log-mel)."""
    return whisper_features_batch([samples], blocks, precision=precision)[0]


def whisper_features_batch(clips: Sequence[np.ndarray], blocks: Sequence[int] = DEFAULT_BLOCKS,
                           batch_frames: int = BATCH_FRAMES, precision: str = "float32") -> np.ndarray:
    """whisper_features of several clips (clips, 768 * len(blocks)). Windows of similar
    length share a padded pass of up to `batch_frames` mel frames (padding included):
    one pass reads the 21 MB of block weights once for all of them, which is what makes
    short clips cheap; past ~16 s a pass the larger activations spill the caches."""
    blocks = tuple(blocks)
    if not blocks or not all(1 <= b <= BLOCKS for b in blocks):
        raise ValueError(f"blocks must be among 1..{BLOCKS}, got {blocks}")
    mels, owners = [], []
    for i, clip in enumerate(clips):
        for window in _windows(np.asarray(clip, dtype=np.float32).ravel()):
            mels.append(log_mel(window))
            owners.append(i)
    outputs = _encode_sorted(mels, max(blocks), batch_frames, encoder_for(precision, max(blocks)))
    return np.stack([_pool([outputs[j] for j in range(len(mels)) if owners[j] == i], blocks)
                     for i in range(len(clips))]).astype(np.float32)


def _windows(samples: np.ndarray) -> list[np.ndarray]:
    """30-s windows (the encoder's reach); a clip of 30 s or less is one window."""
    size = MAX_FRAMES * HOP
    return [samples[start:start + size] for start in range(0, max(1, len(samples)), size)]


def _encode_sorted(mels: list[np.ndarray], last_block: int, batch_frames: int, encoder) -> list[list[np.ndarray]]:
    """Block outputs of every mel; neighbours in length share a pass, so little is padding."""
    order = sorted(range(len(mels)), key=lambda j: len(mels[j]))
    outputs: list[list[np.ndarray]] = [[] for _ in mels]
    for chunk in _batches(order, [len(m) for m in mels], batch_frames):
        for j, result in zip(chunk, encoder.block_outputs_batch([mels[j] for j in chunk], last_block)):
            outputs[j] = result
    return outputs


def _batches(order: list[int], frames: list[int], batch_frames: int) -> list[list[int]]:
    """Consecutive runs of `order` (ascending length) whose padded size, count times the
    longest, stays within `batch_frames`; a window longer than that goes alone."""
    batches: list[list[int]] = []
    for j in order:
        if batches and (len(batches[-1]) + 1) * frames[j] <= batch_frames:
            batches[-1].append(j)
        else:
            batches.append([j])
    return batches


def _pool(windows: list[list[np.ndarray]], blocks: tuple[int, ...]) -> np.ndarray:
    """Mean and std over all positions of the clip's windows, block by block."""
    parts = []
    for b in blocks:
        positions = np.concatenate([window[b - 1] for window in windows])
        parts += [positions.mean(axis=0), positions.std(axis=0)]
    return np.concatenate(parts)


def feature_size(blocks: Sequence[int] = DEFAULT_BLOCKS) -> int:
    """Length of whisper_features' vector: 768 a block."""
    return 2 * WIDTH * len(tuple(blocks))
