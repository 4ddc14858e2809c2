"""How to cluster speech pieces into speakers: the GE2E-era choice behind ser_img.conversation.speakers.

Kept for the record: it needs `speakers.embed` (GE2E) and `speakers.count_speakers` as they were
before CAM++ (issue 24); run it at commit af96e8d. Today's choice: experiments/diarization_choice.py.

    python experiments/speaker_clustering.py [--ravdess ../shared/ravdess] [--cache /tmp/ser-img-pieces.npz]

Every RAVDESS clip's speech (found by the voice detector) is cut into pieces as
`ser_img.conversation.speakers.pieces` cuts a conversation, and each piece is embedded with the voice
encoder's speaker embedding (cached). Then 30 random groups of 1-4 actors, 12 clips each,
are clustered, and each method's accuracy is the part of the speech (seconds) whose piece
lands in the cluster mapped to its actor (one-to-one, Hungarian): 1 - confusion, in DER terms.
Acted clips vary their emotion from one to the next, so voices change more here than in
most conversations: a hard case for speaker embeddings. The figures are in docs/conversations.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ser_img.conversation import speakers
from ser_img.audio.decode import load_audio
from ser_img.speech.segmenter import SileroSegmenter, speech_spans

RATE = 16000


def embed_pieces(ravdess: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings, actor, seconds, clip index) of every piece of every clip."""
    if cache.exists():
        with np.load(cache) as data:
            return data["embeddings"], data["actor"], data["seconds"], data["clip"]
    clips, actor, seconds, owner = [], [], [], []
    for index, path in enumerate(sorted(ravdess.glob("Actor_*/*.*"))):
        samples = load_audio(path, RATE).samples
        for start, end in speakers.pieces(speech_spans(SileroSegmenter(), [samples], RATE), RATE):
            if end - start >= speakers.MIN_PIECE_S * RATE:
                clips.append(samples[start:end])
                actor.append(int(path.stem.split("-")[-1]))
                seconds.append((end - start) / RATE)
                owner.append(index)
    embeddings = np.concatenate([speakers.embed(clips[i : i + 64]) for i in range(0, len(clips), 64)])
    arrays = [embeddings, np.array(actor), np.array(seconds), np.array(owner)]
    np.savez(cache, embeddings=arrays[0], actor=arrays[1], seconds=arrays[2], clip=arrays[3])
    return tuple(arrays)


def accuracy(truth: np.ndarray, found: np.ndarray, seconds: np.ndarray) -> float:
    shared = np.array([[seconds[(truth == t) & (found == f)].sum() for f in np.unique(found)]
                       for t in np.unique(truth)])
    rows, columns = linear_sum_assignment(-shared)
    return float(shared[rows, columns].sum() / seconds.sum())


def average_linkage(x: np.ndarray, count: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=count, metric="cosine", linkage="average").fit_predict(x)


def kmeans_raw(x: np.ndarray, count: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(count, n_init=10, random_state=0).fit_predict(x)


def spectral(x: np.ndarray, count: int) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(count, affinity="precomputed", random_state=0).fit_predict(np.maximum(x @ x.T, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "ravdess")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ser-img-pieces.npz"))
    args = parser.parse_args()
    embeddings, actor, seconds, clip = embed_pieces(args.ravdess, args.cache)
    rng = np.random.default_rng(0)
    groups = []
    for count in (1, 2, 3, 4):
        for _ in range(30):
            chosen = []
            for a in rng.choice(np.unique(actor), count, replace=False):
                picked = rng.choice(np.unique(clip[actor == a]), 12, replace=False)
                chosen += list(np.flatnonzero(np.isin(clip, picked)))
            groups.append((count, np.array(chosen)))
    told = {"average linkage": average_linkage, "k-means": kmeans_raw, "spectral": spectral,
            "k-means, centred (shipped)": lambda x, k: speakers.cluster(x, k)}
    print("Told the number of speakers: accuracy (1 - confusion) by speakers")
    print("| method | 2 | 3 | 4 |\n|---|---|---|---|")
    for name, method in told.items():
        scores = [np.mean([accuracy(actor[i], method(embeddings[i], k), seconds[i]) for k, i in groups if k == n])
                  for n in (2, 3, 4)]
        print(f"| {name} | " + " | ".join(f"{s:.3f}" for s in scores) + " |")
    print("\nauto: accuracy (speakers found) by speakers, for count_speakers' threshold and min share")
    print("| threshold | min share | 1 | 2 | 3 | 4 |\n|---|---|---|---|---|---|")
    for threshold in (0.35, 0.4, 0.45, 0.5):
        for share in (0.05, 0.1, 0.15):
            cells = []
            for n in (1, 2, 3, 4):
                runs = []
                for k, i in groups:
                    if k == n:
                        found = speakers.count_speakers(embeddings[i], seconds[i], threshold, share)
                        runs.append((accuracy(actor[i], speakers.cluster(embeddings[i], found, seconds[i]),
                                              seconds[i]), found))
                cells.append(f"{np.mean([a for a, _ in runs]):.3f} ({np.mean([f for _, f in runs]):.2f})")
            print(f"| {threshold} | {share} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
