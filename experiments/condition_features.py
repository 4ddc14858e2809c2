"""Feature cache for the conditions experiments (issue 23): every clip's GE2E and Whisper
vectors under each recording condition, computed once, one .npz a condition.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/condition_features.py \
        --cache /work/cache/conditions [--only clean,pink20] [--loco-per-corpus 300]

RAVDESS actors 01-18 (1,080 clips, 48-kHz FLAC decoded to 16 kHz). Each condition is applied
to the whole recording, as a microphone or a line would, and the clip is then trimmed as
the pipeline trims it (energy segmenter, 40 dB below the loudest frame, at either end;
`features.spectrogram.trim_silence` with the shipped RenderSettings) - so noise that defeats
the trim stays in, as it would in use. Per clip the cache keeps:

  ge2e_inc   (512)  the shipped `enc` member's vector: LSTM layer 2 mean+std, resemblyzer's
                    increase-only RMS normalisation (features.encoder.encoder_features)
  ge2e_lvl   (512)  the same after `audio.level.normalise_level` to -26 dBFS active (two-sided)
  whisper    (3072) Whisper tiny.en blocks 1-4, mean+std over time (768 a block, in block
                    order), on the level-normalised clip
  whisper_raw(3072) the same on the clip as it is (only for clean, peak-1 and peak-35)

Babble for the RAVDESS test conditions is four talkers drawn from nEMO and EMOVO (Polish,
Italian: speakers and languages no fold trains on); the training copies ("aug": one random
condition a clip, `audio.conditions.draw_condition`) draw babble from ASED, the Spanish
corpus and the Korean one instead. "loco" holds clean clips of the five other corpora
(at most --loco-per-corpus each, speaker-balanced), for leave-one-corpus-out.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from ser_img.audio.conditions import Condition, apply_condition, draw_condition
from ser_img.audio.decode import load_audio
from ser_img.audio.level import normalise_level
from ser_img.features.encoder import encoder_features_batch
from ser_img.features.spectrogram import RenderSettings, trim_silence
from ser_img.features.whisper import whisper_features_batch
from ser_img.labels import EMOTIONS

RATE = 16000
RAVDESS = Path("/work/shared/ravdess")
CORPORA = Path("/work/shared/corpora")
OTHER = ("ased", "emovo", "korean", "nemo", "spanish")
TEST_BABBLE = ("nemo", "emovo")
TRAIN_BABBLE = ("ased", "spanish", "korean")
BABBLE_POOL = 120  # clips per babble pool
CONDITIONS = {  # name: (Condition, raw whisper too)
    "clean": (Condition("clean"), True),
    "peak-1": (Condition("peak", -1.0), True),
    "peak-35": (Condition("peak", -35.0), True),
    "pink20": (Condition("noise", 20.0, "pink"), False),
    "babble20": (Condition("babble", 20.0), False),
    "telephone": (Condition("telephone"), False),
    "aug": (None, False),
    "pink10": (Condition("noise", 10.0, "pink"), False),
    "babble10": (Condition("babble", 10.0), False),
    "mp3": (Condition("codec", 0.0, "mp3"), False),
}
SETTINGS = RenderSettings()


def ravdess_clips() -> list[tuple[Path, int, int]]:
    """(path, label index, actor) of actors 01-18."""
    clips = []
    for path in sorted(RAVDESS.glob("Actor_*/*.flac")):
        parts = path.stem.split("-")
        actor = int(parts[6])
        if actor <= 18:
            clips.append((path, int(parts[2]) - 1, actor))
    return clips


def corpus_rows(corpus: str) -> list[dict]:
    with open(CORPORA / corpus / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def balanced(rows: list[dict], count: int, seed: int) -> list[dict]:
    """At most `count` rows, taken round-robin over speakers (each speaker's order shuffled)."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[dict]] = {}
    for row in rows:
        by_speaker.setdefault(row["speaker"], []).append(row)
    queues = [list(np.array(v, dtype=object)[rng.permutation(len(v))]) for _, v in sorted(by_speaker.items())]
    chosen: list[dict] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop())
    return chosen


def decode(path: Path) -> np.ndarray:
    return load_audio(path, RATE).samples.astype(np.float32)


def babble_pool(corpora: tuple[str, ...], seed: int) -> list[np.ndarray]:
    rows = [r for c in corpora for r in balanced([dict(x, corpus=c) for x in corpus_rows(c)],
                                                   BABBLE_POOL // len(corpora), seed)]
    return [trim_silence(decode(CORPORA / r["corpus"] / r["path"]), SETTINGS) for r in rows]


def features(clips: list[np.ndarray], raw: bool, levelled_too: bool = True) -> dict[str, np.ndarray]:
    """The cached vectors of already-conditioned, untrimmed clips."""
    trimmed = [trim_silence(c, SETTINGS) for c in clips]
    out = {"ge2e_inc": encoder_features_batch(trimmed), "seconds": np.array([len(t) / RATE for t in trimmed], np.float32)}
    if levelled_too:
        levelled = [normalise_level(t, RATE) for t in trimmed]
        out["ge2e_lvl"] = encoder_features_batch(levelled)
        out["whisper"] = whisper_features_batch(levelled, (1, 2, 3, 4))
    if raw:
        out["whisper_raw"] = whisper_features_batch(trimmed, (1, 2, 3, 4))
    return out


def run_condition(name: str, clips, audio, pools, cache: Path) -> None:
    condition, raw = CONDITIONS[name]
    started = time.time()
    parts: dict[str, list[np.ndarray]] = {}
    applied = []
    # A gain or a peak normalisation leaves the level-normalised clip as it was (the trim and
    # normalise_level follow a gain exactly): its levelled vectors are computed for the first
    # 60 clips, checked against clean's, and taken from clean for the rest.
    clean = np.load(cache / "clean.npz") if condition is not None and condition.kind in ("gain", "peak") else None
    for start in range(0, len(clips), 60):
        batch = []
        for i in range(start, min(start + 60, len(clips))):
            seed = 1000 * list(CONDITIONS).index(name) + i
            if condition is None:  # the training copy: a random condition, training babble
                drawn = draw_condition(np.random.default_rng(seed))
                applied.append(drawn.name)
                batch.append(apply_condition(audio[i], RATE, drawn, seed, pools["train"]))
            else:
                applied.append(condition.name)
                batch.append(apply_condition(audio[i], RATE, condition, seed, pools["test"]))
        for key, value in features(batch, raw, clean is None or start == 0).items():
            parts.setdefault(key, []).append(value)
    if clean is not None:
        for key in ("ge2e_lvl", "whisper"):
            first = parts[key][0]
            gap = np.abs(first - clean[key][:len(first)]).max() / np.abs(clean[key][:len(first)]).max()
            print(f"{name}: levelled {key} differs from clean's by at most {gap:.1e} (relative)", flush=True)
            parts[key].append(clean[key][len(first):])
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    np.savez(cache / f"{name}.npz", labels=np.array([c[1] for c in clips]), actors=np.array([c[2] for c in clips]),
             names=np.array([c[0].stem for c in clips]), applied=np.array(applied), **arrays)
    print(f"{name}: {len(clips)} clips in {time.time() - started:.0f} s", flush=True)


def run_loco(cache: Path, per_corpus: int) -> None:
    started = time.time()
    rows = []
    for corpus in OTHER:
        rows += [dict(r, corpus=corpus) for r in balanced(corpus_rows(corpus), per_corpus, seed=7)]
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(rows), 60):
        batch = [decode(CORPORA / r["corpus"] / r["path"]) for r in rows[start:start + 60]]
        for key, value in features(batch, False).items():
            parts.setdefault(key, []).append(value)
    np.savez(cache / "loco.npz", labels=np.array([EMOTIONS.index(r["label"]) for r in rows]),
             corpora=np.array([r["corpus"] for r in rows]), speakers=np.array([r["speaker"] for r in rows]),
             **{k: np.concatenate(v) for k, v in parts.items()})
    print(f"loco: {len(rows)} clips in {time.time() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/conditions"))
    parser.add_argument("--only", default="", help="comma-separated names (default: all not yet cached)")
    parser.add_argument("--loco-per-corpus", type=int, default=300)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    wanted = args.only.split(",") if args.only else ["clean", "loco", *[c for c in CONDITIONS if c != "clean"]]
    if "clean" not in wanted and not (args.cache / "clean.npz").exists():
        wanted = ["clean", *wanted]
    clips = ravdess_clips()
    started = time.time()
    audio = [decode(p) for p, _, _ in clips]
    pools = {"test": babble_pool(TEST_BABBLE, 1), "train": babble_pool(TRAIN_BABBLE, 2)}
    print(f"decoded {len(audio)} clips and {sum(map(len, pools.values()))} babble talkers in "
          f"{time.time() - started:.0f} s", flush=True)
    for name in wanted:
        if (args.cache / f"{name}.npz").exists():
            continue
        if name == "loco":
            run_loco(args.cache, args.loco_per_corpus)
        else:
            run_condition(name, clips, audio, pools, args.cache)


if __name__ == "__main__":
    main()
