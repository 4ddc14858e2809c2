"""Silero VAD (silero-vad 6.2.3, MIT) in NumPy: the probability of speech every 32 ms.

The model is small (a learnt STFT, four 1-D convolutions, one LSTM cell of 128 units):
each 512-sample chunk at 16 kHz, with the 64 samples before it as context, gives one
probability. The convolutions of all chunks run as one batch; only the LSTM cell steps
through them in order, carrying its state across calls, so a long recording can be
fed block by block. Weights: `tools/convert_silero_vad.py`, origin and licence beside them.

We use it rather than an energy gate because it was trained to tell speech from music,
hum and noise, and rather than WebRTC's VAD because that one fires on most noises
(docs/conversations.md has the comparison and the cost).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.audio.signal import sigmoid

RATE = 16000
CHUNK = 512  # samples per probability (32 ms)
CONTEXT = 64  # samples of the previous chunk each chunk sees
WEIGHTS = Path(__file__).resolve().parent.parent / "encoders" / "silero_vad_16k.npz"


@functools.lru_cache(maxsize=1)
def _weights() -> dict[str, np.ndarray]:
    with np.load(WEIGHTS, allow_pickle=False) as arrays:
        return {name: arrays[name].astype(np.float32) for name in arrays.files}


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """PyTorch's Conv1d with kernel 3 and padding 1, on (batch, time, channels) as one matmul."""
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    steps = (padded.shape[1] - 3) // stride + 1
    # (batch, steps, kernel, channels) -> rows of kernel x channels, matching weight (out, channels, kernel)
    columns = np.stack([padded[:, k : k + stride * (steps - 1) + 1 : stride] for k in range(3)], axis=2)
    flat = weight.transpose(0, 2, 1).reshape(len(weight), -1)
    return (columns.reshape(len(x), steps, -1) @ flat.T) + bias


@dataclass
class VadState:
    """What carries over from one block of audio to the next."""

    hidden: np.ndarray = field(default_factory=lambda: np.zeros(128, np.float32))
    cell: np.ndarray = field(default_factory=lambda: np.zeros(128, np.float32))
    context: np.ndarray = field(default_factory=lambda: np.zeros(CONTEXT, np.float32))
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # less than a chunk, not yet scored


def _lstm_inputs(chunks: np.ndarray) -> np.ndarray:
    """(n, CONTEXT + CHUNK) audio to the LSTM cell's input projection (n, 512): all but the recurrence."""
    w = _weights()
    x = np.pad(chunks, ((0, 0), (0, CONTEXT)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, 256, axis=1)[:, ::128]  # (n, 4, 256)
    spectrum = frames @ w["stft_conv_weight"][:, 0, :].T  # (n, 4, 258): real and imaginary parts
    magnitude = np.sqrt(spectrum[..., :129] ** 2 + spectrum[..., 129:] ** 2)  # (n, 4, 129)
    h = np.maximum(_conv1d(magnitude, w["conv1_weight"], w["conv1_bias"], 1), 0)
    h = np.maximum(_conv1d(h, w["conv2_weight"], w["conv2_bias"], 2), 0)
    h = np.maximum(_conv1d(h, w["conv3_weight"], w["conv3_bias"], 2), 0)
    h = np.maximum(_conv1d(h, w["conv4_weight"], w["conv4_bias"], 1), 0)[:, 0, :]  # (n, 128)
    return h @ w["lstm_cell_weight_ih"].T + w["lstm_cell_bias_ih"] + w["lstm_cell_bias_hh"]


def speech_probabilities(samples: np.ndarray, state: VadState | None = None, final: bool = True) -> np.ndarray:
    """P(speech) for each 32-ms chunk of 16-kHz `samples`, continuing from `state` (updated).

    With `final`, a last partial chunk is zero-padded and scored; otherwise it waits in the
    state for the next block.
    """
    state = state if state is not None else VadState()
    audio = np.concatenate([state.pending, np.asarray(samples, np.float32)])
    whole = len(audio) // CHUNK * CHUNK
    if final and whole < len(audio):
        audio, whole = np.pad(audio, (0, CHUNK - len(audio) + whole)), whole + CHUNK
    state.pending = audio[whole:].copy()
    if whole == 0:
        return np.zeros(0, np.float32)
    stream = np.concatenate([state.context, audio[:whole]])
    chunks = np.lib.stride_tricks.sliding_window_view(stream, CONTEXT + CHUNK)[::CHUNK]
    state.context = stream[-CONTEXT:].copy()
    projected = _lstm_inputs(chunks)
    w = _weights()
    recurrent, out_w, out_b = w["lstm_cell_weight_hh"].T, w["final_conv_weight"][0, :, 0], w["final_conv_bias"][0]
    h, c = state.hidden, state.cell
    hidden = np.empty((len(projected), 128), np.float32)
    for i, row in enumerate(projected):
        gates = row + h @ recurrent  # PyTorch's order: input, forget, cell, output
        squashed = sigmoid(gates)  # one call for all four gates (the cell gate's is unused): the loop is per chunk
        c = squashed[128:256] * c + squashed[:128] * np.tanh(gates[256:384])
        h = squashed[384:] * np.tanh(c)
        hidden[i] = h
    state.hidden, state.cell = h, c
    return sigmoid(np.maximum(hidden, 0) @ out_w + out_b)
