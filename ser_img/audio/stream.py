"""Long recordings in bounded memory: blockwise decoding and a sliding window over it.

A multi-hour file is never held whole: it is read in blocks, mixed to mono, resampled
with soxr's streaming resampler (state carried across blocks, so no seams) and cut into
overlapping windows as the blocks arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soxr

from ser_img.audio.decode import DECODE_ERRORS, InMemory, check_header, decode_error, mono_blocks, open_sound

BLOCK_S = 30.0  # seconds of source audio decoded at a time


def channel_count(path: Path | InMemory) -> int | None:
    """Channels in `path` from its header; None when the header cannot say."""
    try:
        with open_sound(path) as info:
            return int(info.channels)
    except Exception:  # noqa: BLE001 - the decoder reports what is wrong
        return None


def audio_duration(path: Path | InMemory) -> float | None:
    """Seconds of audio in `path` from its header; None when the header cannot say.

    Nothing is decoded. A file this cannot read is left to `load_audio`, whose error
    message is the one users see.
    """
    try:
        with open_sound(path) as info:
            frames, rate = info.frames, info.samplerate
    except Exception:  # noqa: BLE001 - any failure means "unknown": the decoder reports it
        return None
    return frames / rate if rate > 0 and frames > 0 else None


def read_blocks(path: Path | InMemory, sample_rate: int, block_s: float = BLOCK_S,
                max_duration_s: float | None = None, channel: int | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks of `path` (or of its `channel` alone) at `sample_rate`, at most
    `block_s` seconds each.

    The rate and the cap are checked as `load_audio` checks them, before anything is decoded.
    """
    try:
        with open_sound(path) as source:
            rate = source.samplerate
            check_header(path, rate, source.channels, source.frames, max_duration_s)
            resampler = None if rate == sample_rate else soxr.ResampleStream(
                rate, sample_rate, 1, dtype="float32", quality="HQ")
            blocks = mono_blocks(source, path, max(1, int(block_s * rate)), max_duration_s, channel)
            pending = next(blocks, None)
            while pending is not None:
                following = next(blocks, None)
                mono = np.nan_to_num(pending, nan=0.0, posinf=0.0, neginf=0.0)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=following is None)
                yield np.asarray(mono, dtype=np.float32)
                pending = following
    except DECODE_ERRORS as exc:
        raise decode_error(path, exc) from None


def cut(blocks: Iterable[np.ndarray], spans: Iterable[tuple[int, int]]) -> Iterator[np.ndarray]:
    """The samples of each (start, end) span of a stream of blocks, in the order given.

    Spans must be sorted by start (they may overlap); only the audio from the current
    span's start to the end of the latest block is held.
    """
    blocks = iter(blocks)
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # stream position of buffer[0]
    exhausted = False
    for start, end in spans:
        while offset + len(buffer) < end and not exhausted:
            block = next(blocks, None)
            if block is None:
                exhausted = True
            else:
                buffer = np.concatenate([buffer, block])
        drop = max(0, min(start - offset, len(buffer)))
        buffer, offset = buffer[drop:], offset + drop
        yield buffer[start - offset : end - offset].copy()


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last one shorter) as they come (itertools.batched, Python 3.12)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
