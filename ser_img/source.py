"""Any input becomes one `Source` at the edge, as pyannote's `validate_file` does.

A path, once-only input (a FIFO, `<(...)`, `-` for standard input), bytes, a file-like object or
a NumPy array with its rate: the recognizer asks a `Source` for its duration and channels, for
its audio whole (`load`) or block by block (`blocks`, memory flat however long), and never which
kind it was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ser_img.audio.decode import Audio, InMemory, is_stream, load_audio, read_stream, to_rate
from ser_img.audio.stream import BLOCK_S, audio_duration, channel_count, read_blocks
from ser_img.errors import AudioError, UsageError


class Source:
    """One recording. `name` is what answers and errors call it (None for an array)."""

    name: str | None
    source_rate: int | None  # the rate it was recorded at, where known before decoding
    # Longer audio (or as many values as that long 48-kHz stereo) is refused before it is
    # decoded; None: no limit (RecognizerOptions.max_duration_s).
    max_duration_s: float | None = None

    def duration(self, rate: int) -> float | None:
        """Seconds of audio (read at `rate`), from the header where there is one; None when it
        cannot say. Nothing is decoded for a file."""
        raise NotImplementedError

    @property
    def channels(self) -> int | None:
        raise NotImplementedError

    def load(self, rate: int) -> Audio:
        """The whole recording, mixed to mono at `rate`."""
        raise NotImplementedError

    def blocks(self, rate: int, channel: int | None = None) -> Iterator[np.ndarray]:
        """Mono (or one `channel`) float32 blocks at `rate`, read as they are needed."""
        raise NotImplementedError

    def measured_duration(self, rate: int) -> float:
        """The duration, counted by reading through when the header does not say."""
        known = self.duration(rate)
        if known is not None:
            return known
        return sum(len(b) for b in self.blocks(rate)) / rate


class FileSource(Source):
    """A file on disk, or once-only input held in memory (`InMemory`)."""

    def __init__(self, handle: Path | InMemory, max_duration_s: float | None = None):
        self.handle = handle
        self.name = str(handle)
        self.source_rate = None
        self.max_duration_s = max_duration_s

    def duration(self, rate: int) -> float | None:
        return audio_duration(self.handle)

    @property
    def channels(self) -> int | None:
        return channel_count(self.handle)

    def load(self, rate: int) -> Audio:
        return load_audio(self.handle, rate, self.max_duration_s)

    def blocks(self, rate: int, channel: int | None = None) -> Iterator[np.ndarray]:
        return read_blocks(self.handle, rate, max_duration_s=self.max_duration_s, channel=channel)


class ArraySource(Source):
    """Samples in memory: (n,) mono or (n, channels), at `sr` Hz. Each channel is resampled
    once per working rate; the mono mix is their mean."""

    def __init__(self, samples: np.ndarray, sr: int | None):
        if sr is None:
            raise UsageError("an audio array needs its sample rate: predict(samples, sr=RATE)")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim not in (1, 2) or samples.size == 0:
            raise AudioError("audio array: expected a non-empty mono array or (samples, channels)")
        self.samples = samples[:, None] if samples.ndim == 1 else samples
        self.name, self.source_rate = None, int(sr)
        self._at: dict[int, tuple[list[np.ndarray], np.ndarray]] = {}

    def _parts(self, rate: int) -> tuple[list[np.ndarray], np.ndarray]:
        """(channels, mono mix) at `rate`."""
        if rate not in self._at:
            parts = [to_rate(np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0), self.source_rate, rate)
                     for c in self.samples.T]
            mono = parts[0] if len(parts) == 1 else np.mean(parts, axis=0).astype(np.float32)
            self._at[rate] = (parts, mono)
        return self._at[rate]

    def duration(self, rate: int) -> float:
        return self._parts(rate)[1].size / rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def load(self, rate: int) -> Audio:
        mono = self._parts(rate)[1]
        return Audio(samples=mono, sample_rate=rate, source_rate=self.source_rate, duration_s=mono.size / rate)

    def blocks(self, rate: int, channel: int | None = None) -> Iterator[np.ndarray]:
        parts, mono = self._parts(rate)
        signal = mono if channel is None else parts[channel]
        block = int(BLOCK_S * rate)
        return iter([signal[i : i + block] for i in range(0, signal.size, block)])


def to_source(value, sr: int | None = None, max_duration_s: float | None = None) -> Source:
    """The one `Source` for whatever the caller gave (see the module's docstring); a file longer
    than `max_duration_s` is refused when it is read. An array is already in memory: no limit."""
    if isinstance(value, Source):
        return value
    if isinstance(value, np.ndarray):
        return ArraySource(value, sr)
    if sr is not None:
        raise UsageError("sr is for arrays; a file's rate is read from the file")
    if isinstance(value, (bytes, bytearray)):
        value = InMemory("audio bytes", bytes(value))
    elif hasattr(value, "read"):
        value = InMemory(str(getattr(value, "name", "audio stream")), value.read())
    if isinstance(value, InMemory):
        return FileSource(value, max_duration_s)
    path = Path(value)
    return FileSource(read_stream(path) if is_stream(path) else path, max_duration_s)
