"""Decoding audio files into mono float32 at one fixed sample rate.

Every way a file can be unusable ends in an AudioError whose message names the file
and says why in words; the outcomes are listed in the README's "Inputs and edge cases".
"""

from __future__ import annotations

from collections.abc import Iterator

import io
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from ser_img.errors import AudioError, DecodeError, SilentAudio
from ser_img.audio.signal import SILENCE_PEAK  # below it (about -100 dBFS) a file holds no sound worth classifying

# Extensions picked up when a folder is searched; a file named directly is always tried.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}
)
# Source rates accepted: telephone speech up to high-resolution studio audio. Outside
# this range a rate is almost surely a broken header (and 1 Hz would "resample" a
# one-second file into hundreds of millions of samples).
MIN_SOURCE_RATE, MAX_SOURCE_RATE = 8000, 384000
# Decoded float32 values held at once while a file is mixed down (16 MiB), whatever its
# channel count: 255 channels at 192 kHz would otherwise be 196 MB per second of audio.
MAX_BLOCK_VALUES = 1 << 22
# What a duration cap allows decoding: channels x rate x seconds up to that of 48-kHz
# stereo for the same seconds, so a cap on length is a cap on work and memory too.
DECODE_VALUES_PER_S = 2 * 48000
# Most bytes read from a pipe or standard input (they are held in memory to be decoded).
MAX_STREAM_BYTES = 2 * 1024**3
# libsndfile's words for "these bytes are not audio it knows", whatever the extension.
_NOT_AUDIO = ("format not recognised", "not a regular file", "unsupported encoding", "unknown format")
# libsndfile's words for a header it parsed but cannot believe (a rate of 4 GHz, no channels):
_IMPOSSIBLE_HEADER = ("sf_info struct incomplete", "bad format field", "bad sample rate", "bad channel count")


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono float32 at `sample_rate`, finite, peak at most 1
    sample_rate: int
    source_rate: int
    duration_s: float  # of the source, before any trimming


class InMemory:
    """Audio read once from a pipe, a FIFO or standard input, held as bytes.

    Such input cannot be opened twice (a header peek would eat it), so it is read whole
    once and decoded from memory; it stands in for a path, named by `name`.
    """

    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data

    def __str__(self) -> str:
        return self.name

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)


def is_stream(path: Path) -> bool:
    """True for input that can be read only once: a FIFO, a pipe (`<(...)`), a terminal, `-`."""
    if str(path) == "-":
        return True
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def read_stream(path: Path, limit: int = MAX_STREAM_BYTES) -> InMemory:
    """The whole of a once-only input (`-` is standard input), or an AudioError saying why not."""
    import sys

    name = str(path)
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise AudioError(f"{name}: more than {limit // 2**20} MiB from a pipe; save it to a file first")
    if not data:
        raise AudioError(f"{name}: empty input (0 bytes)")
    return InMemory("-" if name in ("-", "/dev/stdin") else name, data)


def open_sound(source) -> soundfile.SoundFile:
    """libsndfile's handle on a path or an InMemory source (errors are the caller's to word)."""
    return soundfile.SoundFile(source.open() if isinstance(source, InMemory) else str(source))


def check_header(source, rate: int, channels: int, frames: int, max_duration_s: float | None) -> None:
    """Refuse, before decoding, a rate no recording has, or more audio than the cap allows."""
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise AudioError(f"{source}: sample rate {rate} Hz is outside the supported "
                         f"{MIN_SOURCE_RATE // 1000}-{MAX_SOURCE_RATE // 1000} kHz")
    if max_duration_s is None or frames <= 0:
        return
    if frames / rate > max_duration_s:
        raise AudioError(f"{source}: {frames / rate:.0f} s of audio is over the {max_duration_s:g}-s limit")
    if channels * frames > max_duration_s * DECODE_VALUES_PER_S:
        raise AudioError(f"{source}: {channels} channels at {rate} Hz for {frames / rate:.1f} s is more than "
                         f"the limit allows decoding ({max_duration_s:g} s of 48-kHz stereo)")


def mono_blocks(handle: soundfile.SoundFile, source, block_frames: int,
                max_duration_s: float | None, channel: int | None = None) -> Iterator[np.ndarray]:
    """The file mixed to mono (or only `channel`) block by block, never holding more than
    MAX_BLOCK_VALUES decoded values; stops with an AudioError once past the cap (for headers
    that lie about length)."""
    frames = max(1, min(block_frames, MAX_BLOCK_VALUES // max(1, handle.channels)))
    limit = None if max_duration_s is None else max_duration_s * handle.samplerate
    done = 0
    while len(block := handle.read(frames, dtype="float32", always_2d=True)):  # blocks() needs seeking
        done += block.shape[0]
        if limit is not None and done > limit:
            raise AudioError(f"{source}: more than the {max_duration_s:g}-s limit of audio")
        yield block.mean(axis=1) if channel is None else block[:, channel]


def load_audio(path, sample_rate: int, max_duration_s: float | None = None) -> Audio:
    """Read any format libsndfile knows, mix to mono and resample with soxr.

    `path` is a file or an InMemory source; with `max_duration_s`, longer audio (and more
    channels x rate x time than that many seconds of 48-kHz stereo) is refused before decoding.
    """
    source = path if isinstance(path, InMemory) else Path(path)
    if not isinstance(source, InMemory):
        _check_readable(source)
    try:
        with open_sound(source) as handle:
            source_rate = int(handle.samplerate)
            check_header(source, source_rate, handle.channels, handle.frames, max_duration_s)
            parts = list(mono_blocks(handle, source, handle.frames or source_rate, max_duration_s))
    except DECODE_ERRORS as exc:
        raise decode_error(source, exc) from None
    frames = sum(len(part) for part in parts)
    if frames == 0:
        raise AudioError(f"{source}: contains no samples")
    try:
        mono = _clean(np.concatenate(parts), source)
    except SilentAudio as exc:
        raise SilentAudio(str(exc), frames / source_rate) from None
    # Resampling can overshoot full scale a little around clipped or damaged stretches.
    samples = np.clip(to_rate(mono, source_rate, sample_rate), -1.0, 1.0)
    if len(samples) == 0:
        raise AudioError(f"{source}: too short ({frames} samples at {source_rate} Hz)")
    return Audio(samples=samples, sample_rate=sample_rate, source_rate=source_rate,
                 duration_s=frames / source_rate)


def _check_readable(path: Path) -> None:
    """Missing, folder, unreadable and empty files, told apart before libsndfile lumps them."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if is_stream(path):  # opening it here would eat what the decoder needs
        raise AudioError(f"{path}: a pipe or device, which can be read only once; read it with read_stream")
    try:
        with open(path, "rb") as handle:
            empty = handle.read(1) == b""
    except PermissionError:
        raise AudioError(f"{path}: permission denied") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if empty:
        raise AudioError(f"{path}: empty file (0 bytes)")


# What soundfile raises for a file it cannot decode.
DECODE_ERRORS = (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, EOFError)


def decode_error(path: Path, exc: Exception) -> DecodeError:
    """The one-line error for a file libsndfile cannot decode: its message without the
    "Error opening '...':" preamble, in plainer words."""
    text = str(exc).split(":")[-1].strip().rstrip(".")
    if any(words in text.lower() for words in _NOT_AUDIO):
        text = "not an audio file, or a format this libsndfile cannot read"
    elif any(words in text.lower() for words in _IMPOSSIBLE_HEADER):
        text = "its header is damaged: it states an impossible sample rate, channel count or format"
    return DecodeError(f"{path}: cannot decode audio ({text or type(exc).__name__})")


def _clean(mono: np.ndarray, path: Path) -> np.ndarray:
    """Finite samples with peak at most 1, or an AudioError for a file with no sound.

    NaN and infinite samples (broken float files) become silence. Float files may hold
    values far beyond full scale; scaling them down changes no image (rendering is
    relative to the clip's peak) but keeps the spectrum's power from overflowing.
    """
    finite = np.isfinite(mono)
    if not finite.any():
        raise AudioError(f"{path}: no valid samples (all are NaN or infinite)")
    mono = np.where(finite, mono, np.float32(0.0))
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise SilentAudio(f"{path}: silent (no sound above -100 dBFS)")
    return mono / np.float32(peak) if peak > 1.0 else mono


def to_rate(samples: np.ndarray, source_rate: int, sample_rate: int) -> np.ndarray:
    """Resample mono audio; soxr is both faster and cleaner than librosa's default path."""
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == sample_rate:
        return samples
    return soxr.resample(samples, source_rate, sample_rate, quality="HQ").astype(np.float32)
