"""Recording conditions as pure functions: what a microphone, a room, a line or a codec does
to a clip, for training copies and for measuring a model under them.

Every function takes mono float samples (full scale 1.0) at `rate` and returns new float32
samples of the same length; anything random takes an integer `seed` (or draws from the
`numpy.random.Generator` given) so that a condition is reproducible. Noise is added at a
signal-to-noise ratio against the clip's *active speech level* (`audio.level`, ITU-T P.56),
not its whole-file RMS, so that "20 dB" means the same on a clip with long pauses and one
without; the noise's level is its mean square over the clip (noise has no pauses to skip).

Why not audiomentations (0.43) for the mixing: its noise transforms set the SNR against the
whole clip's RMS, draw from the global `random`/`np.random` state rather than a seed, read
background noise from files on disk, and its MP3 transform needs an encoder we do not ship;
the mixing itself is three lines. The codecs here go through libsndfile (soundfile), which
writes MP3 and Opus; G.711 is `channel.mu_law` and its A-law sibling.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import soundfile

from ser_img.audio.channel import mu_law, telephone
from ser_img.audio.level import active_level

COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # noise power goes as 1 / f**beta
A_LAW = 87.6
LOSSY = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}
BABBLE_TALKERS = 4
BABBLE_LEVEL_DBFS = -26.0  # each talker is brought to this active level before summing


def _f32(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float32).ravel()


def gain(samples: np.ndarray, db: float) -> np.ndarray:
    """The clip `db` louder (negative: quieter); no clipping."""
    return (_f32(samples) * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def as_16_bit(samples: np.ndarray) -> np.ndarray:
    """The clip as a 16-bit PCM file stores it (rounded to 1/32767, clipped at full scale):
    how a quiet recording meets its quantisation noise, about -101 dBFS."""
    return (np.round(np.clip(_f32(samples), -1.0, 1.0) * 32767.0) / 32767.0).astype(np.float32)


def peak_normalise(samples: np.ndarray, peak_dbfs: float = -1.0) -> np.ndarray:
    """What an audio editor's "normalise" does: the largest |sample| made `peak_dbfs`."""
    x = _f32(samples)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0.0:
        return x.copy()
    return (x * np.float32(10.0 ** (peak_dbfs / 20.0) / peak)).astype(np.float32)


def coloured_noise(n: int, colour: str, seed: int | np.random.Generator) -> np.ndarray:
    """`n` samples of unit-RMS Gaussian noise whose power spectrum falls as 1/f**beta
    (white 0, pink 1, brown 2), shaped in the frequency domain; no DC."""
    if colour not in COLOURS:
        raise ValueError(f"unknown noise colour {colour!r}; choose from {', '.join(COLOURS)}")
    rng = np.random.default_rng(seed)
    if n <= 0:
        return np.zeros(0, np.float32)
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.arange(n // 2 + 1, dtype=np.float64)
    shape = np.zeros_like(freqs)
    shape[1:] = freqs[1:] ** (-COLOURS[colour] / 2.0)
    noise = np.fft.irfft(spectrum * shape, n)
    rms = np.sqrt(np.mean(noise**2))
    return (noise / rms if rms > 0 else noise).astype(np.float32)


def _fit(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`noise` looped from a random start to exactly `n` samples."""
    noise = _f32(noise)
    if len(noise) == 0:
        raise ValueError("empty noise")
    start = int(rng.integers(len(noise)))
    reps = int(np.ceil((start + n) / len(noise)))
    return np.tile(noise, reps)[start:start + n]


def babble(sources: Sequence[np.ndarray], n: int, rate: int, seed: int | np.random.Generator) -> np.ndarray:
    """`n` samples of unit-RMS babble: the `sources` (other talkers' clips, ideally of other
    speakers and languages than the clip it will be mixed into) each brought to the same
    active level, looped from a random start and summed."""
    if not sources:
        raise ValueError("babble needs at least one source clip")
    rng = np.random.default_rng(seed)
    total = np.zeros(n, np.float64)
    for source in sources:
        level = active_level(source, rate).level_dbfs
        scaled = _f32(source) * 10.0 ** ((BABBLE_LEVEL_DBFS - level) / 20.0)
        total += _fit(scaled, n, rng)
    rms = np.sqrt(np.mean(total**2)) if n else 0.0
    return (total / rms if rms > 0 else total).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, rate: int, snr_db: float,
               seed: int | np.random.Generator = 0) -> np.ndarray:
    """`speech` plus `noise` (looped from a random start to its length) scaled so that the
    speech's active level over the noise's mean-square level is `snr_db`."""
    x = _f32(speech)
    rng = np.random.default_rng(seed)
    fitted = _fit(noise, len(x), rng).astype(np.float64)
    noise_db = 10.0 * np.log10(max(np.mean(fitted**2), 1e-30))
    speech_db = active_level(x, rate).level_dbfs
    scale = 10.0 ** ((speech_db - snr_db - noise_db) / 20.0)
    return (x + fitted * scale).astype(np.float32)


def add_coloured_noise(samples: np.ndarray, rate: int, snr_db: float, colour: str = "pink",
                       seed: int = 0) -> np.ndarray:
    """The clip with `colour` noise at `snr_db` against its active speech level."""
    rng = np.random.default_rng(seed)
    return mix_at_snr(samples, coloured_noise(len(_f32(samples)), colour, rng), rate, snr_db, rng)


def add_babble(samples: np.ndarray, rate: int, snr_db: float, sources: Sequence[np.ndarray],
               seed: int = 0) -> np.ndarray:
    """The clip with babble of `sources` at `snr_db` against its active speech level."""
    rng = np.random.default_rng(seed)
    return mix_at_snr(samples, babble(sources, len(_f32(samples)), rate, rng), rate, snr_db, rng)


def lowpass(samples: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """The clip through an 8th-order Butterworth low-pass at `cutoff_hz` (a cheap microphone,
    a band-limited recording chain)."""
    from scipy.signal import butter, sosfiltfilt

    x = _f32(samples)
    if cutoff_hz >= rate / 2 or len(x) < 64:
        return x.copy()
    sos = butter(8, cutoff_hz, btype="lowpass", fs=rate, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def room_response(rate: int, rt60_s: float, seed: int | np.random.Generator) -> np.ndarray:
    """A room's impulse response: the direct sound, then a diffuse tail of Gaussian noise
    decaying 60 dB in `rt60_s`, starting after a few ms (the statistical model of late
    reverberation). Chosen over an image-source simulator (pyroomacoustics) because the
    tail, not the early reflections of one geometry, is what smears speech; it needs no
    compiled dependency and is seeded like every other condition."""
    rng = np.random.default_rng(seed)
    n = max(int(rt60_s * rate), 1)
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s)
    tail[: int(0.005 * rate)] = 0.0  # the first reflections arrive after ~5 ms
    direct_to_reverberant = 10.0 ** (rng.uniform(-3.0, 6.0) / 10.0)
    response = tail / np.sqrt(np.sum(tail**2) * direct_to_reverberant)
    response[0] = 1.0
    return response


def reverberate(samples: np.ndarray, rate: int, rt60_s: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """The clip as heard in a room of reverberation time `rt60_s` (`room_response`), its
    length kept (the tail past the end is cut)."""
    from scipy.signal import fftconvolve

    x = _f32(samples)
    return fftconvolve(x, room_response(rate, rt60_s, seed))[: len(x)].astype(np.float32)


def training_copy(samples: np.ndarray, rate: int, seed: Sequence[int], babble_sources: Sequence[np.ndarray] = ()
                  ) -> tuple[np.ndarray, Condition]:
    """The clip under one condition drawn by `draw_condition` from `seed` (e.g. the copy's
    number and a hash of the clip's name, so that every clip of every copy differs and a
    re-run repeats it), with babble only when `babble_sources` are given."""
    rng = np.random.default_rng(list(seed))
    condition = draw_condition(rng, babble=bool(babble_sources))
    return apply_condition(samples, rate, condition, int(rng.integers(2**31)), babble_sources), condition


def a_law(samples: np.ndarray) -> np.ndarray:
    """G.711 A-law: compand, quantise to 8 bits, expand."""
    x = np.clip(_f32(samples).astype(np.float64), -1.0, 1.0)
    ax = np.abs(x)
    small = ax < 1.0 / A_LAW
    y = np.where(small, A_LAW * ax, 1.0 + np.log(np.maximum(A_LAW * ax, 1e-30))) / (1.0 + np.log(A_LAW))
    q = np.round(y * 127.5) / 127.5
    big = q >= 1.0 / (1.0 + np.log(A_LAW))
    expanded = np.where(big, np.exp(q * (1.0 + np.log(A_LAW)) - 1.0) / A_LAW, q * (1.0 + np.log(A_LAW)) / A_LAW)
    return (np.sign(x) * np.minimum(expanded, 1.0)).astype(np.float32)


def lossy(samples: np.ndarray, rate: int, codec: str = "mp3", compression: float = 0.9) -> np.ndarray:
    """The clip encoded and decoded by libsndfile's `codec` ("mp3" or "opus") at
    `compression` (0 best - 1 smallest; mp3 0.9 is about 24 kbit/s, opus 0.95 about 18 at
    16 kHz), cut or padded back to its length (the MP3 decoder's delay is not undone)."""
    if codec not in LOSSY:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(LOSSY)}")
    fmt, subtype = LOSSY[codec]
    x = np.clip(_f32(samples), -1.0, 1.0)
    buffer = io.BytesIO()
    soundfile.write(buffer, x, rate, format=fmt, subtype=subtype, compression_level=min(compression, 0.99))
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    decoded = decoded if decoded.ndim == 1 else decoded.mean(axis=1)
    return np.pad(decoded, (0, max(0, len(x) - len(decoded))))[:len(x)].astype(np.float32)


def codec(samples: np.ndarray, rate: int, name: str) -> np.ndarray:
    """One of the named codecs: "mulaw", "alaw" (8-bit companding at the clip's rate),
    "mp3" (about 24 kbit/s) or "opus" (about 18 kbit/s)."""
    if name == "mulaw":
        return mu_law(_f32(samples))
    if name == "alaw":
        return a_law(samples)
    return lossy(samples, rate, name, 0.9 if name == "mp3" else 0.95)


@dataclass(frozen=True)
class Condition:
    """One recording condition. `kind`: "clean", "gain" (value dB; `colour` "16bit": then
    stored as 16-bit PCM), "peak" (value dBFS),
    "noise" (value SNR dB, `colour` white/pink/brown), "babble" (value SNR dB), "telephone",
    "codec" (`colour` holds the codec's name), "lowpass" (value: cut-off Hz) or "room"
    (value: reverberation time RT60 in s)."""

    kind: str = "clean"
    value: float = 0.0
    colour: str = ""

    @property
    def name(self) -> str:
        if self.kind in ("clean", "telephone"):
            return self.kind
        if self.kind == "codec":
            return self.colour
        if self.kind == "room":
            return f"room{self.value:g}s"
        label = f"{self.colour}" if self.kind == "noise" else self.kind
        return f"{label}{self.value:+g}" if self.kind in ("gain", "peak") else f"{label}{self.value:g}"


def apply_condition(samples: np.ndarray, rate: int, condition: Condition, seed: int = 0,
                    babble_sources: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The clip under `condition` (babble draws its talkers from `babble_sources`)."""
    kind = condition.kind
    if kind == "clean":
        return _f32(samples).copy()
    if kind == "gain":
        louder = gain(samples, condition.value)
        return as_16_bit(louder) if condition.colour == "16bit" else louder
    if kind == "peak":
        return peak_normalise(samples, condition.value)
    if kind == "noise":
        return add_coloured_noise(samples, rate, condition.value, condition.colour or "pink", seed)
    if kind == "babble":
        rng = np.random.default_rng(seed)
        pool = list(babble_sources)
        if len(pool) < 1:
            raise ValueError("babble needs source clips")
        chosen = rng.choice(len(pool), size=min(BABBLE_TALKERS, len(pool)), replace=False)
        return add_babble(samples, rate, condition.value, [pool[i] for i in chosen], int(rng.integers(2**31)))
    if kind == "telephone":
        x = _f32(samples)
        y = telephone(x, rate)  # resampling there and back may change the length by a sample
        return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)].astype(np.float32)
    if kind == "codec":
        return codec(samples, rate, condition.colour)
    if kind == "lowpass":
        return lowpass(samples, rate, condition.value)
    if kind == "room":
        return reverberate(samples, rate, condition.value, seed)
    raise ValueError(f"unknown condition {kind!r}")


def draw_condition(rng: np.random.Generator, babble: bool = True) -> Condition:
    """One random training condition, as issue 23's recipe draws them: gain -30..+20 dB,
    coloured noise or babble at SNR uniform 0-30 dB, the telephone line, a codec, a low-pass
    at 2.5-4 kHz (what the band-limited corpora sound like) or a room of RT60 0.2-0.8 s."""
    kinds = ["gain", "noise", "noise", "telephone", "codec", "lowpass", "room"] + (["babble", "babble"] if babble else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "lowpass":
        return Condition("lowpass", float(round(rng.uniform(2500.0, 4000.0), -1)))
    if kind == "room":
        return Condition("room", round(float(rng.uniform(0.2, 0.8)), 2))
    if kind == "gain":
        return Condition("gain", round(float(rng.uniform(-30.0, 20.0)), 1))
    if kind == "noise":
        return Condition("noise", round(float(rng.uniform(0.0, 30.0)), 1), str(rng.choice(list(COLOURS))))
    if kind == "babble":
        return Condition("babble", round(float(rng.uniform(0.0, 30.0)), 1))
    if kind == "codec":
        return Condition("codec", 0.0, str(rng.choice(["mulaw", "alaw", "mp3", "opus"])))
    return Condition("telephone")
