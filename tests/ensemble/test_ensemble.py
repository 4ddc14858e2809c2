"""Training settings and the fitted ensemble's arithmetic (ser_img.ensemble)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ser_img.ensemble.model import EmotionModel, FoldModel
from ser_img.ensemble.settings import TrainSettings
from ser_img.errors import UsageError
from ser_img.features.extractors import feature_blocks
from ser_img.features.spectrogram import RenderSettings
from ser_img.members.heads import LogisticHead, weighted_vote


@pytest.mark.parametrize("change, message", [
    ({"max_folds": 1}, "at least 2 folds"), ({"cnns_per_fold": 1}, "cnns_per_fold"),
    ({"home_share": 1.0}, "home_share"), ({"cnn_corpora": "some"}, "cnn_corpora"),
    ({"corpus_weighting": "log"}, "unknown corpus weighting"), ({"members": ("cnn", "forest")}, "unknown members"),
    ({"members": ()}, "none chosen"), ({"calibration": "platt"}, "unknown calibration"),
    ({"stack_weights": (0, 0)}, "not all zero"), ({"stack_weights": (-1, 1)}, "non-negative")])
def test_bad_training_settings_are_refused_when_made(change, message):
    with pytest.raises(UsageError, match=message):
        TrainSettings(**change)


def test_training_settings_are_recorded_whole():
    recorded = TrainSettings(seed=3, member_params={"mlp": {"hidden": 8}}).to_dict()
    assert recorded["seed"] == 3 and recorded["member_params"] == {"mlp": {"hidden": 8}}
    assert recorded["cnn"] == dataclasses.asdict(TrainSettings().cnn)


SETTINGS = RenderSettings(encoder_layer=0)  # the descriptors alone


@pytest.fixture(scope="module")
def folds():
    rng = np.random.default_rng(0)
    size = feature_blocks(SETTINGS)["desc"].stop
    labels = np.arange(64) % 8
    features = rng.normal(size=(64, size)) + np.eye(8, size)[labels] * 3
    return [FoldModel(plain={"desc": LogisticHead(seed=k).fit(features[k::2], labels[k::2])}) for k in range(2)], features


def test_the_model_averages_its_folds(folds):
    fold_models, features = folds
    model = EmotionModel("desc", SETTINGS, fold_models, info={"members": ["desc"]})
    images = np.zeros((5, 4, 4, 3), np.uint8)  # no CNN: images are not read
    expected = np.mean([f.plain["desc"].predict_proba(features[:5]) for f in fold_models], axis=0)
    np.testing.assert_allclose(model.predict_proba(images, features[:5]), expected)
    assert model.members == ["desc"] and model.name == "model"
    assert model.predict_prepared([]).shape == (0, 8)


def test_the_stack_combines_each_folds_members_before_the_folds_are_averaged(folds):
    fold_models, features = folds
    model = EmotionModel("stack", SETTINGS, fold_models, stacker=weighted_vote([2]), info={"members": ["desc"]})
    probabilities = model.member_probabilities(np.zeros((3, 4, 4, 3), np.uint8), features[:3])
    per_fold = [f.plain["desc"].predict_proba(features[:3]) for f in fold_models]
    sharpened = [p**2 / (p**2).sum(axis=1, keepdims=True) for p in per_fold]  # weight 2: squared, renormalised
    np.testing.assert_allclose(probabilities["stack"], np.mean(sharpened, axis=0), rtol=1e-6)
    np.testing.assert_allclose(probabilities["desc"], np.mean(per_fold, axis=0))
