"""Which clustering and which speaker-count rule, on CAM++ embeddings? (issue 24, item 2)

    OMP_NUM_THREADS=1 python experiments/diarization_cache.py --seed 1 --variants 1,0.3,3
    OMP_NUM_THREADS=1 python experiments/diarization_choice.py --seed 1 [--variants 1,0.3,3] [--grid]

Reads the pieces and embeddings cached by diarization_cache.py for the benchmark's conversations
(1-4 speakers, six corpora, 12 of each count) and scores each candidate as the recognizer would
use it (pieces under MIN_PIECE_S take the nearest embedded piece's speaker; neighbouring pieces
of one speaker joined into turns): DER (0.25-s collar, ser_img.conversation.der) of the turns
alone, and how often the speaker count is right. Choose on one seed (1), report on another (0:
the benchmark's own conversations), so that the figures reported are not those tuned on.

Candidates, `auto` (the count found) and `told` (the count given):
- ahc: average linkage on cosine distance, stopping at a threshold; groups under a share of the
  speech join the nearest big one;
- spectral: 3D-Speaker's spectral clustering (cosine affinity, each row pruned to its closest
  pieces, unnormalised Laplacian, the count at the largest eigengap, k-means on the eigenvectors);
- (GE2E's rule before this, k-means centred with an average-linkage count, gave on CAM++ 50.3 % / 8 %
  with `auto` and 5.2 % told; measured at commit af96e8d);
- +refine: a few rounds of moving each piece to its nearest speaker centroid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from conversation_build import CORPORA, SNR_DB  # noqa: E402

from ser_img.conversation import speakers  # noqa: E402
from ser_img.conversation.der import diarization_error  # noqa: E402

RATE = 16000


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# -- candidates ------------------------------------------------------------------------------


def ahc(e: np.ndarray, w: np.ndarray, count: int | None, threshold: float = 0.7, min_share: float = 0.05):
    from sklearn.cluster import AgglomerativeClustering

    if len(e) < 2:
        return np.zeros(len(e), np.int64)
    kwargs = {"n_clusters": count} if count else {"n_clusters": None, "distance_threshold": threshold}
    labels = AgglomerativeClustering(metric="cosine", linkage="average", **kwargs).fit_predict(e)
    return absorb_small(e, w, labels, 0.0 if count else min_share)


def absorb_small(e, w, labels, min_share):
    """Groups with less than `min_share` of the speech join the group whose centroid is nearest."""
    shares = np.bincount(labels, weights=w) / w.sum()
    big = np.flatnonzero(shares >= min_share)
    if len(big) == 0:
        return np.zeros(len(e), np.int64)
    centroids = unit(np.stack([np.average(e[labels == k], axis=0, weights=w[labels == k]) for k in big]))
    small = ~np.isin(labels, big)
    out = labels.copy()
    out[small] = big[np.argmax(unit(e[small]) @ centroids.T, axis=1)]
    return np.unique(out, return_inverse=True)[1]


def spectral(e, w, count, pval=0.02, min_pnum=6, max_speakers=10, merge_cos=None, min_size=0):
    n = len(e)
    if n < 2:
        return np.zeros(n, np.int64)
    sim = unit(e) @ unit(e).T
    drop = min(int((1 - pval) * n), n - min_pnum)
    if drop > 0:
        low = np.argsort(sim, axis=1)[:, :drop]
        np.put_along_axis(sim, low, 0.0, axis=1)
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    laplacian = np.diag(np.abs(sim).sum(axis=1)) - sim
    values, vectors = np.linalg.eigh(laplacian)
    if count is None:
        gaps = np.diff(values[: max_speakers + 1])
        count = int(np.argmax(gaps)) + 1
    count = min(count, n)
    if count == 1:
        return np.zeros(n, np.int64)
    from sklearn.cluster import KMeans

    labels = KMeans(count, n_init=10, random_state=0).fit_predict(vectors[:, :count])
    if min_size:
        labels = absorb_small(e, np.ones(n), labels, min_size / n)
    if merge_cos is not None:
        labels = merge_close(e, w, labels, merge_cos)
    return labels


def merge_close(e, w, labels, cos):
    while len(np.unique(labels)) > 1:
        ks = np.unique(labels)
        c = unit(np.stack([np.average(e[labels == k], axis=0, weights=w[labels == k]) for k in ks]))
        sim = np.triu(c @ c.T, 1)
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < cos:
            break
        labels = np.where(labels == ks[j], ks[i], labels)
    return np.unique(labels, return_inverse=True)[1]


def kmeans(e, w, count):
    return speakers.cluster(e, count, w) if count else speakers.cluster(e, None, w)


def refine(labels, e, w, rounds=3):
    e = unit(e)
    for _ in range(rounds):
        ks = np.unique(labels)
        if len(ks) < 2:
            break
        c = unit(np.stack([np.average(e[labels == k], axis=0, weights=w[labels == k]) for k in ks]))
        new = ks[np.argmax(e @ c.T, axis=1)]
        if np.array_equal(new, labels):
            break
        labels = new
    return np.unique(labels, return_inverse=True)[1]


# -- scoring ---------------------------------------------------------------------------------


def load(out: Path, cache: Path, seed: int, variant: str, conversations: int, counts) -> list[dict]:
    snr = variant[3:] if variant.startswith("snr") else f"{SNR_DB:g}"
    suffix = "" if variant in ("1", "") or variant.startswith("snr") else f"-gain{variant}"
    rows = []
    for n in counts:
        for index in range(conversations):
            stem = f"{CORPORA[index % len(CORPORA)]}-{n}spk-{index:02d}-seed{seed}-snr{snr}"
            data = np.load(out / f"{stem}{suffix}.npz")
            info = json.loads((cache / f"{stem}.json").read_text())
            rows.append({"n": n, "corpus": info["corpus"], "pieces": data["pieces"], "e": unit(data["embeddings"]),
                         "reference": [(t["start"], t["end"], t["speaker"]) for t in info["turns"]]})
    return rows


def labels_of(row: dict, method, count) -> np.ndarray:
    """A speaker per piece, as `speakers.diarize` gives them (short pieces: the nearest's)."""
    spans = row["pieces"]
    lengths = (spans[:, 1] - spans[:, 0]).astype(np.float64)
    ok = lengths >= speakers.MIN_PIECE_S * RATE
    labels = np.zeros(len(spans), np.int64)
    labels[ok] = method(row["e"][ok], lengths[ok] / RATE, count)
    centres, known = spans.mean(axis=1), np.flatnonzero(ok)
    for i in np.flatnonzero(~ok):
        labels[i] = labels[known[np.argmin(np.abs(centres[known] - centres[i]))]]
    return speakers.in_order_of_speech(labels)


def oracle_labels(row: dict) -> np.ndarray:
    """Each piece given the reference speaker who speaks most of it: the floor of piece-level turns."""
    names = sorted({s for *_, s in row["reference"]})
    found = []
    for start, end in row["pieces"] / RATE:
        shared = [sum(max(0.0, min(end, e) - max(start, s)) for s, e, who in row["reference"] if who == name)
                  for name in names]
        found.append(int(np.argmax(shared)))
    return speakers.in_order_of_speech(np.array(found))


def score(rows: list[dict], method, told: bool) -> dict:
    out = {}
    for row in rows:
        labels = oracle_labels(row) if method == "oracle" else labels_of(row, method, row["n"] if told else None)
        turns = speakers.turns(row["pieces"], labels, RATE)
        hyp = [(t.start / RATE, t.end / RATE, f"S{t.speaker}") for t in turns]
        error = diarization_error(row["reference"], hyp)
        out.setdefault(row["n"], []).append((error.rate, len(np.unique(labels)) == row["n"], len(np.unique(labels))))
    return {n: (float(np.mean([r[0] for r in v])), float(np.mean([r[1] for r in v])),
                float(np.mean([r[2] for r in v]))) for n, v in sorted(out.items())}


def line(name: str, result: dict) -> str:
    cells = " | ".join(f"{100 * d:.1f} % / {100 * c:.0f} % ({m:.2f})" for d, c, m in result.values())
    multi = [v for n, v in result.items() if n > 1]
    mean = np.mean([d for d, _, _ in multi]) if multi else float("nan")
    right = np.mean([c for _, c, _ in result.values()])
    return f"| {name} | {cells} | {100 * mean:.1f} % | {100 * right:.0f} % |"


def chosen(e, w, k):
    from ser_img.conversation import clustering

    return clustering.cluster(e, k, w)


def spectral_merged(p, share, merge):
    return lambda e, w, k: merge_close(e, w, absorb_small(e, w, spectral(e, w, k, pval=p), share), merge) if k is None \
        else spectral(e, w, k, pval=p)


CANDIDATES = {
    "oracle": "oracle",
    "chosen (ser_img.conversation.clustering)": chosen,
    "spectral p0.1 share0.1 merge0.65": spectral_merged(0.1, 0.1, 0.65),
    "spectral p0.2 share0.1 merge0.6": spectral_merged(0.2, 0.1, 0.6),
    "ahc 0.65": lambda e, w, k: ahc(e, w, k, 0.65, 0.1),
    "ahc 0.7": lambda e, w, k: ahc(e, w, k, 0.7, 0.1),
    "ahc 0.75": lambda e, w, k: ahc(e, w, k, 0.75, 0.1),
    "ahc 0.65 + merge 0.6": lambda e, w, k: merge_close(e, w, ahc(e, w, k, 0.65, 0.1), 0.6),
    "spectral p0.1 (eigengap alone)": lambda e, w, k: spectral(e, w, k, pval=0.1),
    "spectral p0.1 + refine": lambda e, w, k: refine(spectral(e, w, k, pval=0.1), e, w),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="1")
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--counts", default="1,2,3,4")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ser_img_conversations"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ser_img_diarization"))
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    chosen = {k: v for k, v in CANDIDATES.items() if not args.only or k in args.only.split(",")}
    for variant in args.variants.split(","):
        rows = load(args.out, args.cache, args.seed, variant, args.conversations, counts)
        print(f"\nseed {args.seed}, variant {variant}: DER / count right (mean found) per speaker count")
        print("| candidate | told | " + " | ".join(f"{n}" for n in counts) + " | DER 2-4 | count right |")
        for name, method in chosen.items():
            for told in (False, True):
                if told and (name.startswith("ahc") and name != "ahc 0.7" or "merge" in name):
                    continue
                print(line(f"{name} | {'count' if told else 'auto'}", score(rows, method, told)), flush=True)


if __name__ == "__main__":
    main()
