"""Where the speech is: the one home for it (DESIGN §2).

A segmenter says, frame by frame, whether a stream holds speech. Two are known by name:

    "silero"  Silero VAD (ser_img.speech.vad), a voice detector: music, hum and noise are not speech.
              Long recordings are windowed with it.
    "energy"  a level gate (16-ms frames above SILENCE_DB): any loud sound is "speech".
              Clips are trimmed with it in training (RenderSettings.segmenter) unless a
              model asks for the voice detector.

`follow(blocks)` passes a stream of blocks through while filling a `SpeechMask`, so a long
recording is read once and memory stays flat (one flag per frame); `trim` cuts a clip to its
speech, as rendering does before the image is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ser_img.audio import signal

from ser_img.speech import vad
from ser_img.errors import UsageError

SILENCE_DB = -50.0  # the energy gate: a 16-ms frame below this level (dBFS) is silence
ENERGY_FRAME_S = 0.016
# Silero's own defaults for turning probabilities into speech (get_speech_timestamps):
# speech starts at 0.5, ends below 0.35, and pauses under 100 ms do not split it.
VAD_ON, VAD_OFF = 0.5, 0.35
MIN_PAUSE_S = 0.1
SPEECH_PAD_S = 0.03  # kept either side of detected speech when a clip is trimmed


@dataclass
class SpeechMask:
    """Speech flags for a stream, `frame` samples each, filled as its blocks pass."""

    frame: int
    rate: int
    flags: list[np.ndarray] = field(default_factory=list)
    _joined: np.ndarray | None = None

    def add(self, flags: np.ndarray) -> None:
        self.flags.append(np.asarray(flags, bool))
        self._joined = None

    @property
    def array(self) -> np.ndarray:
        if self._joined is None:
            self._joined = np.concatenate(self.flags) if self.flags else np.zeros(0, bool)
            self.flags = [self._joined]
        return self._joined

    def seconds(self, start: int = 0, end: int | None = None) -> float:
        """Seconds of speech between two sample offsets (the whole stream by default)."""
        flags = self.array
        first = start // self.frame
        last = len(flags) if end is None else -(-end // self.frame)
        return float(flags[first:last].sum()) * self.frame / self.rate

    def spans(self, min_pause_s: float = MIN_PAUSE_S, pad_s: float = 0.0) -> np.ndarray:
        """(k, 2) sample spans of speech; pauses shorter than `min_pause_s` do not split one."""
        flags = np.concatenate([[False], self.array, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(flags))
        spans = edges.reshape(-1, 2) * self.frame
        if len(spans) == 0:
            return spans.reshape(0, 2)
        gap = int(min_pause_s * self.rate)
        merged = [list(spans[0])]
        for start, end in spans[1:]:
            if start - merged[-1][1] < gap:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        pad = int(pad_s * self.rate)
        out = np.array(merged, np.int64)
        out[:, 0] = np.maximum(out[:, 0] - pad, 0)
        out[:, 1] += pad
        return out


class EnergySegmenter:
    name = "energy"

    def __init__(self, silence_db: float = SILENCE_DB):
        self.silence_db = silence_db

    def new_mask(self, rate: int) -> SpeechMask:
        return SpeechMask(max(1, int(ENERGY_FRAME_S * rate)), rate)

    def follow(self, blocks: Iterable[np.ndarray], mask: SpeechMask) -> Iterator[np.ndarray]:
        pending = np.zeros(0, np.float32)
        for block in blocks:
            audio = np.concatenate([pending, block])
            whole = len(audio) // mask.frame * mask.frame
            frames = audio[:whole].reshape(-1, mask.frame).astype(np.float64)
            level = 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-20))
            mask.add(level >= self.silence_db)
            pending = audio[whole:]
            yield block

    def trim(self, samples: np.ndarray, settings) -> np.ndarray:
        """Drop frames at either end `trim_db` below the loudest (how training clips are cut)."""
        return signal.trim_silence(samples, settings.n_fft, settings.hop_length, settings.trim_db)


class SileroSegmenter:
    name = "silero"

    def new_mask(self, rate: int) -> SpeechMask:
        if rate != vad.RATE:
            raise UsageError(f"the voice detector needs {vad.RATE}-Hz audio, not {rate} Hz")
        return SpeechMask(vad.CHUNK, rate)

    def follow(self, blocks: Iterable[np.ndarray], mask: SpeechMask) -> Iterator[np.ndarray]:
        state, speaking = vad.VadState(), False
        blocks = iter(blocks)
        block = next(blocks, None)
        while block is not None:
            following = next(blocks, None)
            probabilities = vad.speech_probabilities(block, state, final=following is None)
            flags, speaking = hysteresis(probabilities, speaking)
            mask.add(flags)
            yield block
            block = following

    def trim(self, samples: np.ndarray, settings) -> np.ndarray:
        """From the first detected speech to the last (the whole clip when none is found)."""
        from ser_img.audio.decode import to_rate

        audio = to_rate(np.asarray(samples, np.float32), settings.sample_rate, vad.RATE)
        spans = speech_spans(self, [audio], vad.RATE, pad_s=SPEECH_PAD_S)
        if len(spans) == 0:
            return samples
        scale = settings.sample_rate / vad.RATE
        return samples[int(spans[0, 0] * scale) : int(spans[-1, 1] * scale)]


def hysteresis(probabilities: np.ndarray, speaking: bool) -> tuple[np.ndarray, bool]:
    """Speech flags: on at VAD_ON, off below VAD_OFF (Silero's rule), from state `speaking`."""
    flags = np.empty(len(probabilities), bool)
    for i, p in enumerate(probabilities):
        speaking = p >= VAD_ON or (speaking and p >= VAD_OFF)
        flags[i] = speaking
    return flags, speaking


SEGMENTERS = {"silero": SileroSegmenter, "energy": EnergySegmenter}


def get_segmenter(name: str):
    if name not in SEGMENTERS:
        raise UsageError(f"unknown segmenter {name!r}; choose from {', '.join(SEGMENTERS)}")
    return SEGMENTERS[name]()


def speech_spans(segmenter, blocks: Iterable[np.ndarray], rate: int, pad_s: float = 0.0) -> np.ndarray:
    """(k, 2) sample spans of speech in a stream, read through once."""
    mask = segmenter.new_mask(rate)
    for _ in segmenter.follow(blocks, mask):
        pass
    return mask.spans(pad_s=pad_s)
