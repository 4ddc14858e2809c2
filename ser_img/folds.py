"""Speaker-grouped folds: no speaker is ever on both sides of a split."""

from __future__ import annotations

import numpy as np

from .errors import UsageError


# Speakers each kind of model needs: one held out per fold and one to train the CNN; the
# heads need one more, whose clips their fold's CNN has never heard.
MIN_SPEAKERS = {"cnn": 2, "mlp": 3, "xgb": 3, "lgbm": 3, "stack": 3}
SPEAKER_HINT = ("give each clip its speaker with 'ser-img render --speaker-from folder' "
                "(or --speaker-from speakers.csv, rows of path,speaker)")


def check_speakers(speakers: list[str], head: str) -> None:
    """A usage error, saying what to do, when there are too few speakers for `head`."""
    groups = sorted(set(speakers))
    need = MIN_SPEAKERS[head]
    if len(groups) >= need:
        return
    who = f"speaker {groups[0]!r}" if len(groups) == 1 else f"{len(groups)} speakers"
    other = " (or --head cnn, which needs 2)" if head != "cnn" and len(groups) == 2 else ""
    raise UsageError(f"cannot train --head {head}: every labelled clip comes from {who}; it needs at least "
                     f"{need}{other}; {SPEAKER_HINT}")


def speaker_folds(speakers: list[str], max_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) per fold, each speaker in exactly one test fold.

    Speakers are dealt round-robin in sorted order, so the folds depend only on who is
    present; the number of folds is `max_folds` or the number of speakers if fewer.
    """
    groups = sorted(set(speakers))
    if len(groups) < 2:
        who = f"speaker {groups[0]!r}" if groups and groups[0] else "one unknown speaker"
        raise UsageError(
            f"cannot train: every labelled clip comes from {who}; speaker-independent "
            f"training needs at least two; {SPEAKER_HINT}"
        )
    n_folds = min(max_folds, len(groups))
    fold_of = {speaker: i % n_folds for i, speaker in enumerate(groups)}
    assignment = np.array([fold_of[s] for s in speakers])
    return [(np.flatnonzero(assignment != k), np.flatnonzero(assignment == k)) for k in range(n_folds)]
