"""Speaker-grouped folds: no speaker is ever on both sides of a split."""

from __future__ import annotations

import numpy as np

from ser_img.errors import TooFewSpeakersError


# Speakers any model needs: one held out per fold, and one for each of the two parts of
# the rest that its CNNs and their heads are cross-fitted on (TrainSettings.cnns_per_fold).
MIN_SPEAKERS = 3


def check_speakers(speakers: list[str], head: str) -> None:
    """TooFewSpeakersError when there are fewer speakers than a `head` model needs."""
    groups = sorted(set(speakers))
    need = MIN_SPEAKERS
    if len(groups) >= need:
        return
    who = f"speaker {groups[0]!r}" if len(groups) == 1 else f"{len(groups)} speakers"
    other = ""
    raise TooFewSpeakersError(f"cannot train a {head} model: every labelled clip comes from {who}; it needs at "
                              f"least {need} speakers{other}")


def speaker_folds(speakers: list[str], max_folds: int = 5, corpora=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) per fold, each speaker in exactly one test fold.

    Speakers are dealt round-robin in sorted order, each corpus (`corpora`, per clip) dealt
    on its own from fold 1, so that every fold holds a share of every corpus and a corpus's
    folds do not depend on which other corpora are present. The folds depend only on who is
    present; the number of folds is `max_folds` or the number of speakers if fewer.
    """
    groups = sorted(set(speakers))
    if len(groups) < 2:
        who = f"speaker {groups[0]!r}" if groups and groups[0] else "one unknown speaker"
        raise TooFewSpeakersError(
            f"cannot train: every labelled clip comes from {who}; speaker-independent training needs at least two"
        )
    n_folds = min(max_folds, len(groups))
    corpus_of = dict(zip(speakers, corpora if corpora is not None else [""] * len(speakers)))
    fold_of, dealt = {}, {}
    for speaker in groups:
        corpus = corpus_of[speaker]
        fold_of[speaker] = dealt.get(corpus, 0) % n_folds
        dealt[corpus] = dealt.get(corpus, 0) + 1
    assignment = np.array([fold_of[s] for s in speakers])
    return [(np.flatnonzero(assignment != k), np.flatnonzero(assignment == k)) for k in range(n_folds)]
