import numpy as np
import pytest

from ser_img.errors import UsageError
from ser_img.ensemble.folds import speaker_folds


def test_no_speaker_is_in_two_folds_and_every_clip_is_tested_once():
    rng = np.random.default_rng(0)
    speakers = [f"s{rng.integers(0, 11)}" for _ in range(300)]
    folds = speaker_folds(speakers, max_folds=5)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(300))
    for train, test in folds:
        assert not {speakers[i] for i in train} & {speakers[i] for i in test}
        assert len(train) + len(test) == 300


def test_fold_count_adapts_to_the_speakers_present():
    assert len(speaker_folds(["a", "b", "a", "b"], max_folds=5)) == 2
    assert len(speaker_folds(list("abcdefg"), max_folds=5)) == 5


def test_a_single_speaker_cannot_be_split():
    with pytest.raises(UsageError, match="at least two"):
        speaker_folds(["a", "a", "a"])
