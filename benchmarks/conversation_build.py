"""Conversations built from the corpora in ../shared, for benchmarks/conversations.py and
experiments/diarization_choice.py: the same ones for the same seed.

1 to 4 different speakers of one corpus (speakers with at least 20 clips) take turns, one clip a
turn, each turn by a different speaker than the last (one speaker alone: all the turns theirs).
Each clip is cut to its speech (frames of 1024 samples every 256 at 16 kHz, kept from the first
to the last frame less than 40 dB below the clip's loudest, the rule `ser-img render` trims
with, and at least 10 dB above the noise added below: a quiet clip's soft ends and the room
noise of RAVDESS's quietest clips, which the 40-dB rule alone keeps, would be under the noise in
the mix), and the reference turn is exactly where that cut speech lies. Each speaker's clips are
scaled by one gain that brings all their speech to the same RMS (-26 dBFS), as if each speaker
had a microphone level of their own: the corpora's speakers were recorded at quite different
levels, which would bury the quiet ones under the noise. A speaker's clips keep their levels
relative to each other (loud anger, quiet sadness). Between turns a pause drawn uniformly from
0.2-1.5 s; at 15 % of the changes of speaker, the next one starts 0.2-0.5 s (at most half of
either turn) before the last one ends instead (both heard, mixed). White noise whose RMS is
`snr_db` (30 dB by default) below that speech level runs under the whole conversation, which is
2-3 minutes long (drawn uniformly; shorter when its speakers run out of clips), 16-kHz 16-bit
WAV, written with a JSON of its reference turns to the cache folder (reused when there).
`with_gain` writes a copy at another input level (scaled, then clipped to [-1, 1] as a recorder
clips, 16-bit again).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from ser_img.audio.decode import load_audio
from ser_img.audio.signal import frame
from ser_img.labels import parse_ravdess_name

RATE = 16000
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = ("ravdess", "nemo", "ased", "emovo", "spanish", "korean")
FORMAT = 6  # bump when the way conversations are built changes, so cached ones are rebuilt

N_FFT, HOP, TRIM_DB = 1024, 256, 40.0  # the speech rule, as `ser-img render` trims
PAUSE_S = (0.2, 1.5)
OVERLAP_S = (0.2, 0.5)
OVERLAP_SHARE = 0.15
LENGTH_S = (120.0, 180.0)
SNR_DB = 30.0
SPEECH_RMS = 0.05  # -26 dBFS: every speaker's speech, all their turns together
AUDIBLE_DB = 10.0  # speech: frames at least this far above the added noise too
EDGE_S = 0.5  # silence (and noise) before the first turn and after the last
MIN_CLIPS = 20  # a speaker with fewer clips (some of ASED's) would run out before the conversation ends


@dataclass(frozen=True, order=True)
class Clip:
    path: str
    label: str
    speaker: str


# -- the corpora -----------------------------------------------------------------------------


def corpus_clips(corpus: str, shared: Path = SHARED) -> list[Clip]:
    """Every clip of a corpus with its label and speaker, sorted by path."""
    if corpus == "ravdess":
        clips = []
        for path in sorted((shared / "ravdess").glob("Actor_*/*.flac")):
            info = parse_ravdess_name(path.stem)
            clips.append(Clip(str(path), info.label, info.speaker))
        return clips
    folder = shared / "corpora" / corpus
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        return sorted(Clip(str(folder / row["path"]), row["label"], row["speaker"]) for row in csv.DictReader(handle))


def by_speaker(clips: Sequence[Clip]) -> dict[str, list[Clip]]:
    speakers: dict[str, list[Clip]] = {}
    for clip in clips:
        speakers.setdefault(clip.speaker, []).append(clip)
    return speakers


def speech_bounds(samples: np.ndarray, floor_db: float = -np.inf) -> tuple[int, int]:
    """First and last sample of the frames less than TRIM_DB below the loudest one and above
    `floor_db` (dBFS; the loudest frame counts whatever the floor)."""
    if len(samples) < N_FFT:
        return 0, len(samples)
    power = np.mean(frame(samples, N_FFT, HOP) ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    loud = np.flatnonzero(level >= min(level.max(), max(level.max() - TRIM_DB, floor_db)))
    return int(loud[0] * HOP), int(min(len(samples), loud[-1] * HOP + N_FFT))


def speech_of(clip: Clip) -> np.ndarray:
    samples = load_audio(clip.path, RATE).samples
    start, end = speech_bounds(samples)
    return samples[start:end]


# -- building a conversation -------------------------------------------------------------------


def pick_turns(clips: dict[str, list[Clip]], n_speakers: int, rng: np.random.Generator,
               length_s: float) -> tuple[list[Clip], list[np.ndarray]]:
    """The clips in speaking order and their speech, about `length_s` with the pauses: n speakers,
    never the same one twice in a row (unless alone), no clip twice."""
    speakers = sorted(s for s, c in clips.items() if len(c) >= MIN_CLIPS)
    chosen = [speakers[i] for i in rng.choice(len(speakers), n_speakers, replace=False)]
    queues = {s: [clips[s][i] for i in rng.permutation(len(clips[s]))] for s in chosen}
    order, speech, last, seconds = [], [], None, 0.0
    while seconds < 1.2 * length_s:  # a margin: build_conversation keeps the turns that fit
        options = [s for s in chosen if (s != last or n_speakers == 1) and queues[s]]
        if not options:
            break
        last = options[rng.integers(len(options))]
        order.append(queues[last].pop())
        speech.append(speech_of(order[-1]))
        seconds += len(speech[-1]) / RATE + np.mean(PAUSE_S)
    return order, speech


def level_speakers(order: list[Clip], speech: list[np.ndarray]) -> list[np.ndarray]:
    """Each speaker's clips times one gain that brings all of that speaker's speech to SPEECH_RMS."""
    gains = {}
    for speaker in {clip.speaker for clip in order}:
        theirs = np.concatenate([s for c, s in zip(order, speech) if c.speaker == speaker]).astype(np.float64)
        gains[speaker] = SPEECH_RMS / max(np.sqrt(np.mean(theirs**2)), 1e-9)
    return [(samples * gains[clip.speaker]).astype(np.float32) for clip, samples in zip(order, speech)]


def place_turns(speech: list[np.ndarray], rng: np.random.Generator) -> list[tuple[int, int]]:
    """Where each turn's speech goes, in samples: pauses, and now and then an overlap."""
    spans, end = [], int(EDGE_S * RATE)
    for i, samples in enumerate(speech):
        if i == 0:
            start = end
        elif rng.random() < OVERLAP_SHARE:
            longest = 0.5 * min(len(samples), spans[-1][1] - spans[-1][0]) / RATE
            start = end - int(min(rng.uniform(*OVERLAP_S), longest) * RATE)
        else:
            start = end + int(rng.uniform(*PAUSE_S) * RATE)
        spans.append((start, start + len(samples)))
        end = max(end, start + len(samples))
    return spans


def noise_and_mix(speech: list[np.ndarray], spans: list[tuple[int, int]], rng: np.random.Generator,
                  noise: float) -> tuple[np.ndarray, np.ndarray]:
    """White noise of RMS `noise` under the whole conversation, and the turns summed in place
    over it (float64, before `peak_gain`)."""
    signal = rng.normal(0.0, noise, spans[-1][1] + int(EDGE_S * RATE))
    mixed = signal.copy()
    for samples, (start, end) in zip(speech, spans):
        mixed[start:end] += samples
    return signal, mixed


def peak_gain(mixed: np.ndarray) -> float:
    """The gain that keeps the mix's peak at most 0.99."""
    return min(1.0, 0.99 / np.abs(mixed).max())


def assemble(clips: dict[str, list[Clip]], n_speakers: int, index: int, seed: int, snr_db: float):
    """One conversation's parts: the clips in order, their levelled speech, where each goes, the
    noise under it all and the turns mixed over it (`noise_and_mix`)."""
    rng = np.random.default_rng([seed, n_speakers, index])
    length_s = rng.uniform(*LENGTH_S)
    order, speech = pick_turns(clips, n_speakers, rng, length_s)
    speech = level_speakers(order, speech)
    noise = SPEECH_RMS * 10 ** (-snr_db / 20)
    floor_db = 20 * np.log10(noise) + AUDIBLE_DB
    speech = [samples[slice(*speech_bounds(samples, floor_db))] for samples in speech]
    spans = place_turns(speech, rng)
    keep = max(2, sum(1 for _, end in spans if end <= (length_s - EDGE_S) * RATE))
    order, speech, spans = order[:keep], speech[:keep], spans[:keep]
    return order, speech, spans, *noise_and_mix(speech, spans, rng, noise)


def build_conversation(corpus: str, clips: dict[str, list[Clip]], n_speakers: int, index: int,
                       seed: int, snr_db: float = SNR_DB) -> tuple[np.ndarray, dict]:
    """One conversation's audio and its description (reference turns included)."""
    order, _, spans, _, mixed = assemble(clips, n_speakers, index, seed, snr_db)
    audio = (mixed * peak_gain(mixed)).astype(np.float32)
    turns = [{"start": round(s / RATE, 4), "end": round(e / RATE, 4), "speaker": c.speaker, "label": c.label,
              "clip": c.path} for c, (s, e) in zip(order, spans)]
    return audio, {"format": FORMAT, "corpus": corpus, "n_speakers": n_speakers, "index": index, "seed": seed,
                   "sample_rate": RATE, "duration_s": round(len(audio) / RATE, 4), "snr_db": snr_db, "turns": turns}


def solo_turns(info: dict, shared: Path = SHARED) -> list[np.ndarray]:
    """Each turn of a built conversation as it would sound with nobody else speaking: its own
    speech over its stretch of the conversation's noise, at the mix's gain (the clips alone in
    the same noise and at the same level, for the emotion-per-turn comparison)."""
    clips = by_speaker(corpus_clips(info["corpus"], shared))
    _, speech, spans, noise, mixed = assemble(clips, info["n_speakers"], info["index"], info["seed"], info["snr_db"])
    gain = peak_gain(mixed)
    return [((noise[start:end] + samples) * gain).astype(np.float32) for samples, (start, end) in zip(speech, spans)]


def cached_conversation(cache: Path, corpus: str, clips: dict[str, list[Clip]], n_speakers: int, index: int,
                        seed: int, snr_db: float = SNR_DB) -> tuple[Path, dict]:
    """The WAV and its description, built unless the cache already holds them."""
    stem = cache / f"{corpus}-{n_speakers}spk-{index:02d}-seed{seed}-snr{snr_db:g}"
    wav, described = stem.with_suffix(".wav"), stem.with_suffix(".json")
    if wav.exists() and described.exists():
        info = json.loads(described.read_text())
        if info.get("format") == FORMAT:
            return wav, info
    audio, info = build_conversation(corpus, clips, n_speakers, index, seed, snr_db)
    cache.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(wav), audio, RATE, subtype="PCM_16")
    described.write_text(json.dumps(info, indent=1) + "\n")
    return wav, info


def with_gain(wav: Path, info: dict, gain: float) -> tuple[Path, dict]:
    """A copy of a built conversation at `gain` times its level (clipped, 16-bit), beside it."""
    if gain == 1.0:
        return wav, info
    out = wav.with_name(f"{wav.stem}-gain{gain:g}.wav")
    if not out.exists():
        audio, rate = soundfile.read(str(wav), dtype="float32")
        soundfile.write(str(out), np.clip(audio * gain, -1.0, 1.0), rate, subtype="PCM_16")
    return out, {**info, "gain": gain}


def build_all(corpora: Sequence[str], counts: Sequence[int], conversations: int, seed: int, snr_db: float,
              cache: Path, shared: Path = SHARED) -> list[tuple[Path, dict]]:
    """`conversations` of each speaker count (the i-th of each count from the i-th corpus, round
    robin), built or read from `cache`."""
    clips = {corpus: by_speaker(corpus_clips(corpus, shared)) for corpus in corpora}
    built = []
    for n in counts:
        for index in range(conversations):
            corpus = corpora[index % len(corpora)]
            built.append(cached_conversation(cache, corpus, clips[corpus], n, index, seed, snr_db))
    return built

