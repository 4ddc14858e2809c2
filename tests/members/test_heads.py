"""The heads' contract (scikit-learn's): hyper-parameters are constructor parameters, stored
under their own names, and they are what `fit` hands the library."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from ser_img.members.heads import (
    N_CLASSES,
    DenseHead,
    LgbmHead,
    LogisticHead,
    MlpHead,
    XgbHead,
    balanced_weights,
    softmax,
    stack_features,
    weighted_vote,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    labels = np.arange(96) % N_CLASSES
    features = rng.normal(size=(96, 6)) + 1.5 * np.eye(N_CLASSES, 6)[labels]
    return features, labels


@pytest.mark.parametrize("cls", [MlpHead, LogisticHead, XgbHead, LgbmHead])
def test_every_constructor_parameter_is_kept_under_its_name(cls):
    signature = inspect.signature(cls)
    head = cls()
    for name, parameter in signature.parameters.items():
        assert getattr(head, name) == parameter.default, name
    changed = cls(**{name: 1 for name in signature.parameters if name not in ("booster", "alpha", "tol")})
    assert all(getattr(changed, name) == 1 for name in signature.parameters if name not in ("booster", "alpha", "tol"))


def test_xgboost_defaults_are_the_recipe_the_models_were_trained_with(data):
    import xgboost

    features, labels = data
    recipe = {"objective": "multi:softprob", "num_class": N_CLASSES, "max_depth": 4, "eta": 0.1, "subsample": 0.8,
              "colsample_bytree": 0.8, "tree_method": "hist", "seed": 5, "nthread": 2, "verbosity": 0}
    matrix = xgboost.DMatrix(features, label=labels, weight=balanced_weights(labels))
    expected = xgboost.train(recipe, matrix, num_boost_round=10).predict(xgboost.DMatrix(features))
    head = XgbHead(rounds=10, seed=5).fit(features, labels)
    np.testing.assert_array_equal(head.predict_proba(features), expected)


def test_lightgbm_defaults_are_the_recipe_the_models_were_trained_with(data):
    import lightgbm

    features, labels = data
    recipe = {"objective": "multiclass", "num_class": N_CLASSES, "learning_rate": 0.05, "num_leaves": 15,
              "min_data_in_leaf": 5, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
              "seed": 5, "deterministic": True, "num_threads": 2, "verbose": -1}
    dataset = lightgbm.Dataset(features, label=labels, weight=balanced_weights(labels))
    expected = lightgbm.train(recipe, dataset, num_boost_round=10).predict(features)
    head = LgbmHead(rounds=10, seed=5).fit(features, labels)
    np.testing.assert_array_equal(head.predict_proba(features), expected)


def test_gbdt_parameters_reach_the_library(data):
    features, labels = data
    stump = XgbHead(rounds=3, max_depth=1).fit(features, labels)
    dumps = stump.booster.get_dump()
    assert len(dumps) == 3 * N_CLASSES and all(tree.count("leaf=") <= 2 for tree in dumps)
    small = LgbmHead(rounds=3, num_leaves=2, min_data_in_leaf=1).fit(features, labels)
    assert {tree["num_leaves"] for tree in small.booster.dump_model()["tree_info"]} <= {1, 2}
    assert "learning_rate: 0.3" in LgbmHead(rounds=2, learning_rate=0.3).fit(features, labels).booster.model_to_string()


def test_mlp_and_logistic_parameters_reach_the_fit(data):
    features, labels = data
    assert MlpHead(hidden=5, max_iter=20).fit(features, labels).dense.weights[0].shape == (6, 5)
    strong = LogisticHead(C=10.0).fit(features, labels).dense.weights[0]
    weak = LogisticHead(C=1e-4).fit(features, labels).dense.weights[0]
    assert np.abs(weak).sum() < 0.1 * np.abs(strong).sum()  # C is the inverse of the penalty


def test_same_seed_same_model_and_another_seed_another(data):
    features, labels = data
    one, two = (XgbHead(rounds=10, seed=1).fit(features, labels) for _ in range(2))
    assert bytes(one.booster.save_raw("ubj")) == bytes(two.booster.save_raw("ubj"))
    other = XgbHead(rounds=10, seed=2).fit(features, labels)
    assert not np.array_equal(one.predict_proba(features), other.predict_proba(features))


def test_balanced_weights_give_each_present_class_the_same_total():
    labels = np.array([0, 0, 0, 0, 3, 5, 5])
    weights = balanced_weights(labels)
    totals = np.bincount(labels, weights=weights, minlength=N_CLASSES)
    np.testing.assert_allclose(totals[[0, 3, 5]], len(labels) / 3)
    assert totals[[1, 2, 4, 6, 7]].sum() == 0


def test_weighted_vote_is_a_weighted_geometric_mean():
    rng = np.random.default_rng(0)
    a, b = softmax(rng.normal(size=(5, N_CLASSES))), softmax(rng.normal(size=(5, N_CLASSES)))
    vote = weighted_vote([1, 2]).predict_proba(stack_features([a, b]))
    expected = a * b**2 / (a * b**2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vote, expected, rtol=1e-9)
    only_b = weighted_vote([0, 1]).predict_proba(stack_features([a, b]))
    np.testing.assert_allclose(only_b, b, rtol=1e-9)


def test_binary_dense_head_is_stable_for_huge_logits():
    head = DenseHead([0.0], [1.0], [np.array([[1.0]])], [np.array([0.0])], [1, 6])
    with np.errstate(all="raise"):
        probabilities = head.predict_proba(np.array([[-1e4], [0.0], [1e4]]))
    np.testing.assert_allclose(probabilities[:, [1, 6]], [[1, 0], [0.5, 0.5], [0, 1]])
    assert probabilities[:, [0, 2, 3, 4, 5, 7]].sum() == 0
