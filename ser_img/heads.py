"""Classifiers on CNN embeddings (MLP, XGBoost, LightGBM) and the stacker over them.

Each head is saved in a native, pickle-free format: NumPy arrays for the MLP and the
stacker (inference is a few matrix products), gzipped XGBoost UBJSON and LightGBM text.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np

from .labels import EMOTIONS

N_CLASSES = len(EMOTIONS)
GBDT_ROUNDS = 200


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-sample weights that give every class present the same total weight."""
    counts = np.bincount(labels, minlength=N_CLASSES).astype(float)
    per_class = np.where(counts > 0, len(labels) / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
    return per_class[labels]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class DenseHead:
    """Standardise, ReLU hidden layers, then a softmax (or logistic, for 2 classes) output.

    Holds an sklearn MLPClassifier or LogisticRegression as plain arrays.
    """

    def __init__(self, mean, scale, weights, biases, classes):
        self.mean, self.scale = np.asarray(mean), np.asarray(scale)
        self.weights, self.biases = [np.asarray(w) for w in weights], [np.asarray(b) for b in biases]
        self.classes = np.asarray(classes, dtype=np.int64)

    @classmethod
    def from_sklearn(cls, model, mean, scale) -> "DenseHead":
        """From a fitted MLPClassifier or LogisticRegression that saw standardised inputs."""
        if hasattr(model, "coefs_"):
            return cls(mean, scale, model.coefs_, model.intercepts_, model.classes_)
        return cls(mean, scale, [model.coef_.T], [model.intercept_], model.classes_)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        h = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.maximum(h @ w + b, 0.0)
        logits = h @ self.weights[-1] + self.biases[-1]
        if logits.shape[1] == 1:  # sklearn's binary case: one logistic unit for classes[1]
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            present = np.stack([1.0 - positive, positive], axis=1)
        else:
            present = softmax(logits)
        full = np.zeros((len(h), N_CLASSES))
        full[:, self.classes] = present
        return full

    def save(self, path: Path) -> None:
        arrays = {"mean": self.mean, "scale": self.scale, "classes": self.classes}
        arrays.update({f"w{i}": w for i, w in enumerate(self.weights)})
        arrays.update({f"b{i}": b for i, b in enumerate(self.biases)})
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "DenseHead":
        with np.load(path, allow_pickle=False) as data:
            depth = sum(1 for key in data.files if key.startswith("w"))
            return cls(data["mean"], data["scale"], [data[f"w{i}"] for i in range(depth)],
                       [data[f"b{i}"] for i in range(depth)], data["classes"])


def _standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def fit_mlp(features: np.ndarray, labels: np.ndarray, seed: int) -> DenseHead:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mean, scale = _standardiser(features)
    model = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-2, max_iter=500, random_state=seed)
    with warnings.catch_warnings():
        # A fixed iteration budget is the design (same seed, same result); say nothing when it ends.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit((features - mean) / scale, labels, sample_weight=balanced_weights(labels))
    return DenseHead.from_sklearn(model, mean, scale)


def fit_logistic(features: np.ndarray, labels: np.ndarray, seed: int, C: float = 0.5,
                 standardise: bool = True) -> DenseHead:
    from sklearn.linear_model import LogisticRegression

    if standardise:
        mean, scale = _standardiser(features)
    else:
        mean, scale = np.zeros(features.shape[1]), np.ones(features.shape[1])
    model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    model.fit((features - mean) / scale, labels, sample_weight=balanced_weights(labels))
    return DenseHead.from_sklearn(model, mean, scale)


class XgbHead:
    file_name = "xgb.ubj.gz"  # gzip: the shipped model must stay small

    def __init__(self, booster):
        self.booster = booster

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, seed: int) -> "XgbHead":
        import xgboost

        params = {"objective": "multi:softprob", "num_class": N_CLASSES, "max_depth": 4, "eta": 0.1,
                  "subsample": 0.8, "colsample_bytree": 0.8, "tree_method": "hist", "seed": seed,
                  "nthread": 2, "verbosity": 0}
        data = xgboost.DMatrix(features, label=labels, weight=balanced_weights(labels))
        return cls(xgboost.train(params, data, num_boost_round=GBDT_ROUNDS))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        import xgboost

        return self.booster.predict(xgboost.DMatrix(np.asarray(features))).astype(np.float64)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(gzip.compress(bytes(self.booster.save_raw("ubj")), mtime=0))

    @classmethod
    def load(cls, path: Path) -> "XgbHead":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(gzip.decompress(Path(path).read_bytes())))
        return cls(booster)


class LgbmHead:
    file_name = "lgbm.txt.gz"

    def __init__(self, booster):
        self.booster = booster

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, seed: int) -> "LgbmHead":
        import lightgbm

        params = {"objective": "multiclass", "num_class": N_CLASSES, "learning_rate": 0.05,
                  "num_leaves": 15, "min_data_in_leaf": 5, "feature_fraction": 0.8,
                  "bagging_fraction": 0.8, "bagging_freq": 1, "seed": seed, "deterministic": True,
                  "num_threads": 2, "verbose": -1}
        data = lightgbm.Dataset(features, label=labels, weight=balanced_weights(labels))
        return cls(lightgbm.train(params, data, num_boost_round=GBDT_ROUNDS))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(np.asarray(features)), dtype=np.float64)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(gzip.compress(self.booster.model_to_string().encode("utf-8"), mtime=0))

    @classmethod
    def load(cls, path: Path) -> "LgbmHead":
        import lightgbm

        return cls(lightgbm.Booster(model_str=gzip.decompress(Path(path).read_bytes()).decode("utf-8")))


class MlpHead(DenseHead):
    file_name = "mlp.npz"
    fit = staticmethod(fit_mlp)


def fit_descriptor_lr(features: np.ndarray, labels: np.ndarray, seed: int) -> DenseHead:
    # Strong regularisation: hundreds of correlated statistics, a few speakers' worth of clips.
    return fit_logistic(features, labels, seed, C=0.01)


class DescriptorHead(DenseHead):
    """Logistic regression on the acoustic descriptors alone; no CNN in it."""

    file_name = "desc.npz"
    fit = staticmethod(fit_descriptor_lr)


# name -> class with fit(features, labels, seed), predict_proba, save(path), load(path), file_name
HEADS = {"mlp": MlpHead, "xgb": XgbHead, "lgbm": LgbmHead, "desc": DescriptorHead}


def head_features(name: str, embeddings: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
    """What head `name` reads: the descriptors alone for "desc", else the CNN's embeddings beside them."""
    if name == "desc":
        return descriptors
    return np.concatenate([embeddings, descriptors], axis=1)


def weighted_vote(weights: tuple[int, ...]) -> DenseHead:
    """softmax(sum over members of weight x log-probability), as a DenseHead over
    `stack_features`: a weighted geometric mean of the members' probabilities."""
    matrix = np.concatenate([w * np.eye(N_CLASSES) for w in weights], axis=0)
    size = len(weights) * N_CLASSES
    return DenseHead(np.zeros(size), np.ones(size), [matrix], [np.zeros(N_CLASSES)], np.arange(N_CLASSES))


def stack_features(member_probabilities: list[np.ndarray]) -> np.ndarray:
    """The stacker's input: log-probabilities of every member, side by side."""
    return np.concatenate([np.log(np.clip(p, 1e-6, 1.0)) for p in member_probabilities], axis=1)
