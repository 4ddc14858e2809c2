"""Speech pieces' speaker embeddings clustered into voices: 3D-Speaker's spectral clustering, written
in NumPy and scikit-learn's k-means, with its speaker count at the largest eigengap, then groups
too small to be a voice absorbed and voices whose centroids are too alike merged.

The constants were chosen on conversations built from the training corpora (seed 1) and are
reported on others (seed 0): experiments/diarization_choice.py, docs/conversations.md.
"""

from __future__ import annotations

import numpy as np

PRUNE_SHARE = 0.1  # each piece keeps its affinity to this share of the pieces closest to it ...
MIN_NEIGHBOURS = 6  # ... and to at least this many
MAX_SPEAKERS = 10  # the eigengap is looked for among this many speakers at most
MIN_SHARE = 0.1  # `auto`: a group with less of the speech joins the nearest larger one
MERGE_COSINE = 0.6  # `auto`: voices whose centroids are at least this close are one
# longer recordings are clustered on this many pieces spread evenly over them, and every piece
# then goes to the nearest voice's centroid: the affinity matrix and its eigenvectors stay small
# (2,000 pieces: about 1 h 20 min of continuous speech, a 32-MB matrix)
MAX_CLUSTERED = 2000


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cluster(embeddings: np.ndarray, count: int | None, weights: np.ndarray | None = None) -> np.ndarray:
    """A speaker index per embedding: exactly `count` speakers (when no more than the pieces),
    or as many as the eigengap, the small-group and the merging rules leave (`count=None`)."""
    n = len(embeddings)
    weights = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    if n < 2 or count == 1:
        return np.zeros(n, np.int64)
    if count is not None and count >= n:
        return np.arange(n)
    e = unit(np.asarray(embeddings, np.float64))
    chosen = np.unique(np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(np.int64))
    labels = spectral(e[chosen], count)
    if count is None:
        labels = absorb_small(e[chosen], weights[chosen], labels, MIN_SHARE)
        labels = merge_close(e[chosen], weights[chosen], labels, MERGE_COSINE)
    if len(chosen) == n:
        return labels
    groups = np.unique(labels)
    return groups[np.argmax(e @ centroids(e[chosen], weights[chosen], labels, groups).T, axis=1)]


def affinity(e: np.ndarray) -> np.ndarray:
    """Cosine similarity, each row keeping only its closest pieces, made symmetric; zero diagonal."""
    n = len(e)
    sim = e @ e.T
    drop = min(int((1 - PRUNE_SHARE) * n), n - MIN_NEIGHBOURS)
    if drop > 0:
        np.put_along_axis(sim, np.argsort(sim, axis=1)[:, :drop], 0.0, axis=1)
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    return sim


def spectral(e: np.ndarray, count: int | None) -> np.ndarray:
    """Spectral clustering on the unnormalised Laplacian; `count=None`: at the largest eigengap."""
    from sklearn.cluster import KMeans

    sim = affinity(e)
    values, vectors = np.linalg.eigh(np.diag(np.abs(sim).sum(axis=1)) - sim)
    if count is None:
        count = int(np.argmax(np.diff(values[: MAX_SPEAKERS + 1]))) + 1
    count = min(count, len(e))
    if count == 1:
        return np.zeros(len(e), np.int64)
    return KMeans(count, n_init=10, random_state=0).fit_predict(vectors[:, :count]).astype(np.int64)


def centroids(e: np.ndarray, weights: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return unit(np.stack([np.average(e[labels == k], axis=0, weights=weights[labels == k]) for k in groups]))


def absorb_small(e: np.ndarray, weights: np.ndarray, labels: np.ndarray, min_share: float) -> np.ndarray:
    """Groups with less than `min_share` of the speech join the larger group whose centroid is nearest."""
    shares = np.bincount(labels, weights=weights) / weights.sum()
    big = np.flatnonzero(shares >= min_share)
    if len(big) == 0:
        return np.zeros(len(e), np.int64)
    small = ~np.isin(labels, big)
    out = labels.copy()
    out[small] = big[np.argmax(e[small] @ centroids(e, weights, labels, big).T, axis=1)]
    return np.unique(out, return_inverse=True)[1]


def merge_close(e: np.ndarray, weights: np.ndarray, labels: np.ndarray, cosine: float) -> np.ndarray:
    """The two groups with the closest centroids become one, until none are `cosine` close."""
    while len(groups := np.unique(labels)) > 1:
        c = centroids(e, weights, labels, groups)
        sim = np.triu(c @ c.T, 1) - np.tril(np.ones((len(groups), len(groups))))
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < cosine:
            break
        labels = np.where(labels == groups[j], groups[i], labels)
    return np.unique(labels, return_inverse=True)[1]
