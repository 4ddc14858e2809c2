"""Who speaks when: pieces, clustering, turns (ser_img.conversation.speakers); the recogniser's
conversations are tests/test_conversations.py's."""

from __future__ import annotations

import numpy as np

from ser_img.conversation.speakers import (
    PIECE_S,
    Turn,
    channels_error,
    cluster,
    diarize,
    in_order_of_speech,
    pieces,
    turns,
)

RATE = 16000


def test_speech_is_cut_into_near_equal_pieces_of_about_a_partial():
    spans = np.array([[0, int(4 * PIECE_S * RATE)], [100_000, 100_000 + int(0.5 * RATE)]])
    cut = pieces(spans, RATE)
    assert len(cut) == 5 and cut[0, 0] == 0 and cut[3, 1] == spans[0, 1]
    assert np.all(cut[1:4, 0] == cut[:3, 1])  # contiguous within a stretch
    assert cut[4].tolist() == spans[1].tolist()  # a short stretch is one piece
    assert pieces(np.zeros((0, 2), np.int64), RATE).shape == (0, 2)


def test_speakers_are_numbered_in_order_of_first_speech():
    assert in_order_of_speech(np.array([4, 4, 1, 4, 7, 1])).tolist() == [0, 0, 1, 0, 2, 1]


def test_turns_join_one_speakers_neighbouring_pieces():
    spans = np.array([[0, 10], [12, 20], [40, 50], [52, 60], [61, 70]])
    got = turns(spans, np.array([0, 0, 0, 1, 0]), rate=1, gap_s=5)
    assert got == [Turn(0, 20, 0), Turn(40, 50, 0), Turn(52, 60, 1), Turn(61, 70, 0)]


def _voices(rng, per_voice=(6, 6), dim=32):
    directions = rng.normal(size=(len(per_voice), dim))
    points = [d + 0.1 * rng.normal(size=(n, dim)) for d, n in zip(directions, per_voice)]
    truth = np.repeat(np.arange(len(per_voice)), per_voice)
    order = rng.permutation(len(truth))
    return np.concatenate(points)[order], truth[order]


def _same_partition(a, b) -> bool:
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


def test_clustering_finds_the_voices_given_or_counted():
    embeddings, truth = _voices(np.random.default_rng(0), (5, 7, 6))
    assert _same_partition(cluster(embeddings, 3), truth)
    assert _same_partition(cluster(embeddings, None), truth)


def test_clustering_edge_cases():
    embeddings, _ = _voices(np.random.default_rng(1))
    assert cluster(embeddings, 1).tolist() == [0] * 12
    assert cluster(embeddings[:3], 5).tolist() == [0, 1, 2]  # more speakers asked than pieces
    assert cluster(np.zeros((0, 32)), None).shape == (0,)
    assert cluster(embeddings[:1], None).tolist() == [0]


def test_a_voice_with_too_little_of_the_speech_is_not_counted():
    embeddings, truth = _voices(np.random.default_rng(2), (10, 1))
    weights = np.ones(len(truth))
    assert set(cluster(embeddings, None, weights)) == {0}  # one piece of eleven: under MIN_SHARE
    weights[truth == 1] = 5.0
    assert _same_partition(cluster(embeddings, None, weights), truth)


def test_pieces_too_short_to_embed_take_their_neighbours_speaker(monkeypatch):
    import ser_img.conversation.speakers as speakers

    spans = np.array([[0, RATE], [RATE, RATE + 100], [3 * RATE, 4 * RATE]])
    monkeypatch.setattr(speakers, "embed", lambda clips: np.array([[1.0, 0.0]] if len(clips) == 1 else
                                                                    [[1.0, 0.0], [0.0, 1.0]]))
    labels = diarize(spans, [np.zeros(int(e - s), np.float32) for s, e in spans], RATE, count=2)
    assert labels.tolist() == [0, 0, 1]
    assert diarize(spans[1:2], [np.zeros(100, np.float32)], RATE, count=2).tolist() == [0]


def test_the_channels_error_counts_the_channels():
    assert "has 1 channel" in str(channels_error("a.wav", 1)) and str(channels_error("b.wav", 3)).endswith("3 channels")


def test_a_short_turn_joins_its_nearer_neighbour():
    spans = np.array([[0, 16000], [16000, 20800], [24000, 40000], [80000, 84000]])
    # 0.3 s of speaker 1 between two turns of speaker 0 joins them; a lone short turn stays
    found = turns(spans, np.array([0, 1, 0, 1]), RATE)
    assert found == [Turn(0, 40000, 0), Turn(80000, 84000, 1)]
    assert turns(spans, np.array([0, 1, 0, 1]), RATE, min_turn_s=0.0)[1] == Turn(16000, 20800, 1)


def test_long_recordings_are_clustered_on_a_spread_of_their_pieces(monkeypatch):
    from ser_img.conversation import clustering

    rng = np.random.default_rng(0)
    voices = clustering.unit(rng.normal(size=(2, 192)))
    truth = np.repeat([0, 1], 150)
    pieces = voices[truth] + 0.05 * rng.normal(size=(300, 192))
    whole = in_order_of_speech(clustering.cluster(pieces, None))
    monkeypatch.setattr(clustering, "MAX_CLUSTERED", 60)
    spread = in_order_of_speech(clustering.cluster(pieces, None))
    assert np.array_equal(whole, truth) and np.array_equal(spread, truth)
