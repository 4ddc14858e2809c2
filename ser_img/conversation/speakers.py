"""Who speaks when: speech cut into short pieces, each embedded with CAM++ (a speaker embedding
trained for verification, `features.campplus`), clustered into speakers (`clustering`), and
neighbouring pieces of one speaker joined into turns.

Pure functions of sample spans and embeddings; the recognizer reads the audio and
scores the turns (docs/conversations.md has the measurements behind the constants).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ser_img.audio.stream import batched
from ser_img.conversation import clustering
from ser_img.conversation.clustering import cluster
from ser_img.errors import UsageError
from ser_img.features import campplus

PIECE_S = 1.6  # speech is embedded in pieces of about this length
MIN_PIECE_S = 0.4  # shorter stretches of speech join a neighbour's speaker, unembedded
TURN_GAP_S = 1.0  # one speaker's pieces closer than this, with nobody between, are one turn
MIN_TURN_S = 0.5  # a shorter turn next to another joins it (`turns`)
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
    """(n, 192) unit-length CAM++ speaker embeddings of 16-kHz pieces (each brought to one level
    first, so the voices found do not follow the input's gain)."""
    return clustering.unit(campplus.shared_encoder().embed_batch(list(clips)))


def in_order_of_speech(labels: np.ndarray) -> np.ndarray:
    """Speaker indices renumbered 0, 1, ... in order of first appearance."""
    order = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], np.int64)


def turns(spans: np.ndarray, speakers: np.ndarray, rate: int, gap_s: float = TURN_GAP_S,
          min_turn_s: float = MIN_TURN_S) -> list[Turn]:
    """Neighbouring pieces of one speaker, less than `gap_s` apart, joined into turns; a turn
    shorter than `min_turn_s` within `gap_s` of a neighbouring turn becomes part of the nearer one
    (too short to tell a voice or an emotion by; one left alone is not scored, having too little speech)."""
    found = _join(spans, speakers, rate * gap_s)
    short = [k for k, t in enumerate(found) if t.end - t.start < min_turn_s * rate]
    if not short or len(found) < 2:
        return found
    speakers = np.asarray(speakers).copy()
    starts = np.array([t.start for t in found])
    for k in short:
        gaps = [(found[k].start - found[k - 1].end, k - 1) if k > 0 else (np.inf, k),
                (found[k + 1].start - found[k].end, k + 1) if k + 1 < len(found) else (np.inf, k)]
        gap, near = min(gaps)
        if gap < gap_s * rate:
            inside = (spans[:, 0] >= starts[k]) & (spans[:, 1] <= found[k].end)
            speakers[inside] = found[near].speaker
    return _join(spans, in_order_of_speech(speakers), rate * gap_s)


def _join(spans: np.ndarray, speakers: np.ndarray, gap: float) -> list[Turn]:
    out: list[Turn] = []
    for (start, end), speaker in zip(spans, speakers):
        if out and out[-1].speaker == speaker and start - out[-1].end < gap:
            out[-1] = Turn(out[-1].start, int(end), int(speaker))
        else:
            out.append(Turn(int(start), int(end), int(speaker)))
    return out


def diarize(spans: np.ndarray, clips: Iterable[np.ndarray], rate: int, count: int | None,
            mapper=None, batch: int = 64, in_flight: int = 4) -> np.ndarray:
    """A speaker index (in order of first speech) per piece span, from the pieces' audio
    (`embed_pieces`, then `assign`)."""
    return assign(spans, embed_pieces(spans, clips, rate, mapper, batch, in_flight), rate, count)


def embed_pieces(spans: np.ndarray, clips: Iterable[np.ndarray], rate: int, mapper=None, batch: int = 64,
                 in_flight: int = 4) -> np.ndarray:
    """(k, 192) embeddings of the pieces at least MIN_PIECE_S long, in order (the others' clips are
    skipped). `mapper(function, jobs) -> list` spreads the work over workers (`in_flight` batches of
    `batch` pieces at a time, so memory stays flat)."""
    mapper = mapper or (lambda function, jobs: list(map(function, jobs)))
    long_enough = (spans[:, 1] - spans[:, 0]) >= MIN_PIECE_S * rate
    kept = (c for c, ok in zip(clips, long_enough) if ok)
    vectors = [v for group in batched(batched(kept, batch), in_flight) for v in mapper(embed, group)]
    return np.concatenate(vectors) if vectors else np.zeros((0, campplus.EMBEDDING_SIZE), np.float32)


def assign(spans: np.ndarray, vectors: np.ndarray, rate: int, count: int | None) -> np.ndarray:
    """A speaker index (in order of first speech) per piece span, from the embeddings of the
    pieces at least MIN_PIECE_S long (`embed_pieces`): those are clustered; the shorter ones,
    too short to embed well, take the speaker of the nearest embedded piece."""
    long_enough = (spans[:, 1] - spans[:, 0]) >= MIN_PIECE_S * rate
    if not long_enough.any():
        return np.zeros(len(spans), np.int64)
    labels = np.full(len(spans), -1, np.int64)
    lengths = (spans[:, 1] - spans[:, 0]).astype(np.float64)
    labels[long_enough] = cluster(vectors, count, lengths[long_enough])
    centres = spans.mean(axis=1)
    known = np.flatnonzero(long_enough)
    for i in np.flatnonzero(~long_enough):
        labels[i] = labels[known[np.argmin(np.abs(centres[known] - centres[i]))]]
    return in_order_of_speech(labels)
