"""Who speaks when: speech cut into short pieces, each embedded with the voice encoder's
speaker embedding (what it was trained for), clustered into speakers, and neighbouring
pieces of one speaker joined into turns.

Pure functions of sample spans and embeddings; the recognizer reads the audio and
scores the turns (docs/conversations.md has the measurements behind the constants).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ser_img.features import encoder
from ser_img.errors import UsageError
from ser_img.audio.stream import batched

PIECE_S = 1.6  # a piece of speech is embedded as one of resemblyzer's 1.6-s partials
MIN_PIECE_S = 0.4  # shorter stretches of speech join a neighbour's speaker, unembedded
# `auto` counts the voices: groups of pieces closer than this on average (cosine distance)
# with at least MIN_SHARE of the speech each (chosen on RAVDESS, docs/conversations.md)
AUTO_THRESHOLD = 0.4
MIN_SHARE = 0.1
TURN_GAP_S = 1.0  # one speaker's pieces closer than this, with nobody between, are one turn
MAX_SPEAKERS = 20
CHANNEL_NAMES = ("left", "right")  # the parties of a two-channel recording


@dataclass(frozen=True)
class Turn:
    start: int  # samples at the model's rate
    end: int
    speaker: int  # index in order of first speech


def parse_speakers(value) -> str | int | None:
    """`--speakers`: None (one voice), "auto", "channels" or a count from 1 to MAX_SPEAKERS."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif str(value).strip().lower() in ("auto", "channels"):
        return str(value).strip().lower()
    else:
        try:
            count = int(str(value))
        except ValueError:
            raise UsageError(f"speakers must be auto, channels or a number of speakers, not {value!r}") from None
    if count is not None and not 1 <= count <= MAX_SPEAKERS:
        raise UsageError(f"speakers must be between 1 and {MAX_SPEAKERS}, not {count}")
    return count


def channels_error(source, channels: int) -> UsageError:
    """Speakers by channel ("channels") asked of a recording without exactly two channels (in
    words for the library's users, who never typed a CLI flag)."""
    return UsageError(f"{source}: scoring speakers by channel needs a two-channel recording (one party per channel); "
                      f"this one has {channels} channel{'s' * (channels != 1)}")


def pieces(spans: np.ndarray, rate: int) -> np.ndarray:
    """(k, 2) sample spans: each stretch of speech cut into near-equal pieces of about PIECE_S."""
    out = []
    piece = PIECE_S * rate
    for start, end in spans:
        count = max(1, int(round((end - start) / piece)))
        edges = np.linspace(start, end, count + 1).astype(np.int64)
        out += list(zip(edges[:-1], edges[1:]))
    return np.array(out, np.int64).reshape(-1, 2)


def embed(clips: list[np.ndarray]) -> np.ndarray:
    """(n, 256) speaker embeddings of 16-kHz pieces: each volume-normalised and embedded as
    one 1.6-s partial (shorter ones padded with silence, as resemblyzer pads; longer ones as
    the mean of a partial from each end)."""
    length = encoder.PARTIAL_FRAMES * encoder.HOP
    partials, owner = [], []
    for i, clip in enumerate(clips):
        clip = encoder.normalize_volume(np.asarray(clip, np.float32))
        ends = [clip[:length], clip[-length:]] if len(clip) > length * 1.1 else [clip[:length]]
        for part in ends:
            partials.append(encoder.mel_frames(np.pad(part, (0, length - len(part))))[: encoder.PARTIAL_FRAMES])
            owner.append(i)
    embedded = encoder.shared_encoder().embed_partials(np.stack(partials))
    sums = np.zeros((len(clips), embedded.shape[1]), np.float32)
    np.add.at(sums, owner, embedded)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def cluster(embeddings: np.ndarray, count: int | None, weights: np.ndarray | None = None) -> np.ndarray:
    """A speaker index per embedding: exactly `count` speakers, or as many as `count_speakers` finds.

    k-means on embeddings centred on their mean: centring removes what all the recording's
    voices share (room, microphone, language), and k-means, unlike average linkage, does not
    give a few odd pieces a speaker of their own (docs/conversations.md has the comparison).
    """
    n = len(embeddings)
    weights = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    count = count_speakers(embeddings, weights) if count is None else count
    if n == 0 or count == 1:
        return np.zeros(n, np.int64)
    if count >= n:
        return np.arange(n)
    from sklearn.cluster import KMeans

    centred = embeddings - np.average(embeddings, axis=0, weights=weights)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return KMeans(count, n_init=10, random_state=0).fit_predict(centred, sample_weight=weights).astype(np.int64)


def count_speakers(embeddings: np.ndarray, weights: np.ndarray, threshold: float = AUTO_THRESHOLD,
                   min_share: float = MIN_SHARE) -> int:
    """How many voices: groups of pieces whose mean cosine distance stays under `threshold`
    (average linkage), counting only groups with at least `min_share` of the speech."""
    if len(embeddings) < 2:
        return 1
    from sklearn.cluster import AgglomerativeClustering

    groups = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=threshold).fit_predict(embeddings)
    shares = np.bincount(groups, weights=weights) / weights.sum()
    return max(1, int(np.sum(shares >= min_share)))


def in_order_of_speech(labels: np.ndarray) -> np.ndarray:
    """Speaker indices renumbered 0, 1, ... in order of first appearance."""
    order = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], np.int64)


def turns(spans: np.ndarray, speakers: np.ndarray, rate: int, gap_s: float = TURN_GAP_S) -> list[Turn]:
    """Neighbouring pieces of one speaker, less than `gap_s` apart, joined into turns."""
    out: list[Turn] = []
    gap = gap_s * rate
    for (start, end), speaker in zip(spans, speakers):
        if out and out[-1].speaker == speaker and start - out[-1].end < gap:
            out[-1] = Turn(out[-1].start, int(end), int(speaker))
        else:
            out.append(Turn(int(start), int(end), int(speaker)))
    return out


def diarize(spans: np.ndarray, clips: Iterable[np.ndarray], rate: int, count: int | None,
            mapper=None, batch: int = 64, in_flight: int = 4) -> np.ndarray:
    """A speaker index (in order of first speech) per piece span, from the pieces' audio.

    `mapper(function, jobs) -> list` spreads the embedding over workers (`in_flight`
    batches of `batch` pieces at a time, so memory stays flat). Pieces shorter than
    MIN_PIECE_S are too short to embed well: they take the speaker of the nearest embedded piece.
    """
    mapper = mapper or (lambda function, jobs: list(map(function, jobs)))
    long_enough = (spans[:, 1] - spans[:, 0]) >= MIN_PIECE_S * rate
    if not long_enough.any():
        return np.zeros(len(spans), np.int64)
    kept = (c for c, ok in zip(clips, long_enough) if ok)
    vectors = [v for group in batched(batched(kept, batch), in_flight) for v in mapper(embed, group)]
    labels = np.full(len(spans), -1, np.int64)
    lengths = (spans[:, 1] - spans[:, 0]).astype(np.float64)
    labels[long_enough] = cluster(np.concatenate(vectors), count, lengths[long_enough])
    centres = spans.mean(axis=1)
    known = np.flatnonzero(long_enough)
    for i in np.flatnonzero(~long_enough):
        labels[i] = labels[known[np.argmin(np.abs(centres[known] - centres[i]))]]
    return in_order_of_speech(labels)
