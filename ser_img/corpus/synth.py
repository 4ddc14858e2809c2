"""A synthetic, speech-like corpus in the RAVDESS layout, for the demo and the tests.

SYNTHETIC DATA: harmonic "voices" whose pitch, pitch range, tempo, spectral tilt,
jitter and breathiness vary with the emotion. It exercises the whole pipeline without
a download; a model trained on it knows nothing about real speech.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from ser_img.labels import EMOTIONS, ravdess_stem

# Written at the corpus's root: its clips carry RAVDESS names but are not RAVDESS, and
# model cards must not say otherwise (ser_img.store.card).
MARKER = "SYNTHETIC.txt"

# emotion: (f0 scale, f0 range in semitones, syllables/s, tilt dB/octave, jitter, breath)
_STYLE = {
    "neutral": (1.00, 2.0, 4.0, -12.0, 0.005, 0.02),
    "calm": (0.94, 1.0, 3.2, -15.0, 0.003, 0.06),
    "happy": (1.25, 7.0, 4.8, -8.0, 0.010, 0.02),
    "sad": (0.86, 1.5, 2.7, -17.0, 0.015, 0.09),
    "angry": (1.18, 4.0, 5.4, -5.0, 0.020, 0.01),
    "fearful": (1.42, 6.0, 6.0, -10.0, 0.040, 0.07),
    "disgust": (0.92, 3.0, 3.4, -11.0, 0.025, 0.04),
    "surprised": (1.50, 10.0, 4.4, -8.0, 0.010, 0.03),
}
# (F1, F2, F3) in Hz of five vowels; a statement is a fixed vowel sequence.
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]])
_STATEMENTS = {1: [0, 1, 3, 2, 0, 4], 2: [3, 0, 1, 4, 2, 0, 1]}


def synth_clip(emotion: str, intensity: int, statement: int, actor: int, rng: np.random.Generator,
               sample_rate: int) -> np.ndarray:
    """One utterance: silence, a voiced phrase, silence; float32 in [-1, 1]."""
    f0_scale, f0_range, tempo, tilt, jitter, breath = _STYLE[emotion]
    neutral = _STYLE["neutral"]
    strength = 1.6 if intensity == 2 else 1.0
    f0_scale = 1 + (f0_scale - 1) * strength
    f0_range, tilt = f0_range * strength, neutral[3] + (tilt - neutral[3]) * strength
    voice = np.random.default_rng(1000 + actor)  # the same speaker in every clip
    base_f0 = (110.0 if actor % 2 else 200.0) * voice.uniform(0.85, 1.15)
    formant_scale = (1.0 if actor % 2 else 1.15) * voice.uniform(0.95, 1.05)

    vowels = _STATEMENTS[statement]
    duration = len(vowels) / (tempo * rng.uniform(0.93, 1.07))
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    shape = np.sin(np.pi * t / duration) + (0.8 * t / duration if emotion == "surprised" else -0.3 * t / duration)
    f0 = base_f0 * f0_scale * 2 ** (f0_range / 12 * shape)
    f0 *= 1 + jitter * _smooth_noise(rng, n, sample_rate, 30.0)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate

    syllable = np.minimum((t / duration * len(vowels)).astype(int), len(vowels) - 1)
    formants = _VOWELS[np.array(vowels)][syllable] * formant_scale  # (n, 3)
    envelope = np.sin(np.pi * ((t / duration * len(vowels)) % 1.0)) ** 0.6

    voiced = np.zeros(n)
    for k in range(1, int(0.45 * sample_rate / f0.min())):
        freq = k * f0
        gain = 10 ** (tilt * np.log2(k) / 20) * sum(
            1 / (1 + ((freq - formants[:, i]) / (80 + 40 * i)) ** 2) for i in range(3)
        )
        voiced += gain * np.sin(k * phase)
    voiced /= np.abs(voiced).max() + 1e-9
    speech = envelope * (voiced + breath * rng.standard_normal(n))

    lead, tail = (int(rng.uniform(0.3, 0.6) * sample_rate) for _ in range(2))
    clip = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    clip += 10 ** (-65 / 20) * rng.standard_normal(len(clip))
    return (0.5 * clip / np.abs(clip).max()).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, n: int, sample_rate: int, rate_hz: float) -> np.ndarray:
    knots = rng.standard_normal(int(n / sample_rate * rate_hz) + 2)
    return np.interp(np.linspace(0, len(knots) - 1, n), np.arange(len(knots)), knots)


def generate_corpus(root: Path, actors: range | list[int], statements=(1, 2), repetitions=(1,),
                    sample_rate: int = 22050, seed: int = 0) -> list[Path]:
    """Write one clip per actor, emotion, statement and repetition as 16-bit WAV.

    Intensity alternates with the repetition and statement, as far as RAVDESS allows
    (neutral has normal intensity only). Deterministic for a given seed.
    """
    paths = []
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / MARKER).write_text("Synthetic audio written by ser_img.corpus.synth; the names follow RAVDESS's "
                                     "scheme, the sounds are not RAVDESS.\n", encoding="utf-8")
    for actor in actors:
        for emotion_index, emotion in enumerate(EMOTIONS):
            for statement in statements:
                for repetition in repetitions:
                    intensity = 1 if emotion == "neutral" else 1 + (statement + repetition) % 2
                    rng = np.random.default_rng([seed, actor, emotion_index, statement, repetition])
                    clip = synth_clip(emotion, intensity, statement, actor, rng, sample_rate)
                    stem = ravdess_stem(emotion, intensity, statement, repetition, actor)
                    path = Path(root) / f"Actor_{actor:02d}" / f"{stem}.wav"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    soundfile.write(str(path), clip, sample_rate, subtype="PCM_16")
                    paths.append(path)
    return paths
