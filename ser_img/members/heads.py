"""Classifiers on CNN embeddings (MLP, XGBoost, LightGBM) and the stacker over them.

Each head is saved in a native, pickle-free format: NumPy arrays for the MLP and the
stacker (inference is a few matrix products), gzipped XGBoost UBJSON and LightGBM text.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np

from ser_img.audio.signal import sigmoid
from ser_img.labels import EMOTIONS

N_CLASSES = len(EMOTIONS)


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
            positive = sigmoid(logits[:, 0])
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


def _weights(labels: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    return balanced_weights(labels) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


# Every member behind one contract, as in scikit-learn: hyper-parameters in __init__,
# fit(X, y, sample_weight=None, class_mask=None) -> self (class-balanced weights when none
# are given; class_mask (n, 8) says which classes each clip's corpus has: the logistic
# regressions restrict each clip's softmax to them, the MLP and the GBDT heads, whose
# libraries have no such loss, see the weights alone), predict_proba(X) -> (n, 8),
# save(path) and load(path) in a native, pickle-free format.


class _DenseMember:
    """A member whose fitted form is a DenseHead (NumPy arrays)."""

    file_name = ""
    dense: DenseHead | None = None

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self.dense.predict_proba(features)

    def save(self, path: Path) -> None:
        self.dense.save(path)

    @classmethod
    def load(cls, path: Path):
        member = cls()
        member.dense = DenseHead.load(path)
        return member


class MlpHead(_DenseMember):
    file_name = "mlp.npz"

    def __init__(self, hidden: int = 64, alpha: float = 1e-2, max_iter: int = 500, seed: int = 0):
        self.hidden, self.alpha, self.max_iter, self.seed = hidden, alpha, max_iter, seed

    def fit(self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            class_mask: np.ndarray | None = None) -> "MlpHead":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        mean, scale = _standardiser(features)
        model = MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=self.alpha, max_iter=self.max_iter,
                              random_state=self.seed)
        with warnings.catch_warnings():
            # A fixed iteration budget is the design (same seed, same result); say nothing when it ends.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit((features - mean) / scale, labels, sample_weight=_weights(labels, sample_weight))
        self.dense = DenseHead.from_sklearn(model, mean, scale)
        return self


class LogisticHead(_DenseMember):
    """Multinomial logistic regression in which each clip is evidence only about the classes
    its corpus has: its softmax runs over those classes alone (`class_mask`), so a corpus
    without `calm` never teaches that its neutral clips are "not calm". Standardised inputs,
    L2 penalty with scikit-learn's C convention (min 0.5 |W|^2 + C * sum of weighted losses),
    L-BFGS from zero: the same data give the same model."""

    file_name = "logistic.npz"

    # tol: L-BFGS's relative change of the loss at which it stops; 1e-6 takes a third of the
    # iterations of scipy's default for the same held-out accuracy.
    def __init__(self, C: float = 0.01, max_iter: int = 500, tol: float = 1e-6, seed: int = 0):
        self.C, self.max_iter, self.tol, self.seed = C, max_iter, tol, seed

    def fit(self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            class_mask: np.ndarray | None = None) -> "LogisticHead":
        from scipy.optimize import minimize

        mean, scale = _standardiser(features)
        x = ((features - mean) / scale).astype(np.float32)  # float32 products: twice as fast, same model
        weight = _weights(labels, sample_weight)
        mask = np.ones((len(x), N_CLASSES), bool) if class_mask is None else np.asarray(class_mask, bool)
        mask[np.arange(len(x)), labels] = True
        penalty = np.where(mask, 0.0, -np.inf)
        onehot = np.eye(N_CLASSES)[labels]
        d = x.shape[1]

        def loss_and_grad(flat):
            w, b = flat[:d * N_CLASSES].reshape(d, N_CLASSES), flat[d * N_CLASSES:]
            probs = softmax((x @ w.astype(np.float32)).astype(np.float64) + b + penalty)
            loss = -np.sum(weight * np.log(np.maximum(probs[np.arange(len(x)), labels], 1e-300)))
            delta = (probs - onehot) * weight[:, None]
            grad_w = self.C * (x.T @ delta.astype(np.float32)).astype(np.float64) + w
            return self.C * loss + 0.5 * np.sum(w * w), np.concatenate([grad_w.ravel(), self.C * delta.sum(0)])

        start = np.zeros(d * N_CLASSES + N_CLASSES)
        result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B",
                          options={"maxiter": self.max_iter, "ftol": self.tol})
        w, b = result.x[:d * N_CLASSES].reshape(d, N_CLASSES), result.x[d * N_CLASSES:]
        self.dense = DenseHead(mean, scale, [w], [b], np.arange(N_CLASSES))
        return self


class _GbdtHead:
    """Gradient-boosted trees: `rounds` trees of the library's own parameters, `threads` threads
    (part of the recipe: the same seed and threads give the same trees)."""

    file_name = ""
    booster = None

    @classmethod
    def load(cls, path: Path):
        return cls(booster=cls._read(gzip.decompress(Path(path).read_bytes())))


class XgbHead(_GbdtHead):
    file_name = "xgb.ubj.gz"  # gzip: the shipped model must stay small

    def __init__(self, rounds: int = 200, max_depth: int = 4, learning_rate: float = 0.1, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, threads: int = 2, seed: int = 0, booster=None):
        self.rounds, self.max_depth, self.learning_rate = rounds, max_depth, learning_rate
        self.subsample, self.colsample_bytree = subsample, colsample_bytree
        self.threads, self.seed, self.booster = threads, seed, booster

    def fit(self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            class_mask: np.ndarray | None = None) -> "XgbHead":
        import xgboost

        params = {"objective": "multi:softprob", "num_class": N_CLASSES, "max_depth": self.max_depth,
                  "eta": self.learning_rate, "subsample": self.subsample, "colsample_bytree": self.colsample_bytree,
                  "tree_method": "hist", "seed": self.seed, "nthread": self.threads, "verbosity": 0}
        data = xgboost.DMatrix(features, label=labels, weight=_weights(labels, sample_weight))
        self.booster = xgboost.train(params, data, num_boost_round=self.rounds)
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        import xgboost

        return self.booster.predict(xgboost.DMatrix(np.asarray(features))).astype(np.float64)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(gzip.compress(bytes(self.booster.save_raw("ubj")), mtime=0))

    @staticmethod
    def _read(raw: bytes):
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(raw))
        return booster


class LgbmHead(_GbdtHead):
    file_name = "lgbm.txt.gz"

    def __init__(self, rounds: int = 200, learning_rate: float = 0.05, num_leaves: int = 15, min_data_in_leaf: int = 5,
                 feature_fraction: float = 0.8, bagging_fraction: float = 0.8, bagging_freq: int = 1,
                 threads: int = 2, seed: int = 0, booster=None):
        self.rounds, self.learning_rate, self.num_leaves = rounds, learning_rate, num_leaves
        self.min_data_in_leaf, self.feature_fraction = min_data_in_leaf, feature_fraction
        self.bagging_fraction, self.bagging_freq = bagging_fraction, bagging_freq
        self.threads, self.seed, self.booster = threads, seed, booster

    def fit(self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            class_mask: np.ndarray | None = None) -> "LgbmHead":
        import lightgbm

        params = {"objective": "multiclass", "num_class": N_CLASSES, "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
                  "feature_fraction": self.feature_fraction, "bagging_fraction": self.bagging_fraction,
                  "bagging_freq": self.bagging_freq, "seed": self.seed, "deterministic": True,
                  "num_threads": self.threads, "verbose": -1}
        data = lightgbm.Dataset(features, label=labels, weight=_weights(labels, sample_weight))
        self.booster = lightgbm.train(params, data, num_boost_round=self.rounds)
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(np.asarray(features)), dtype=np.float64)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(gzip.compress(self.booster.model_to_string().encode("utf-8"), mtime=0))

    @staticmethod
    def _read(raw: bytes):
        import lightgbm

        return lightgbm.Booster(model_str=raw.decode("utf-8"))


def weighted_vote(weights) -> DenseHead:
    """softmax(sum over members of weight x log-probability), as a DenseHead over
    `stack_features`: a weighted geometric mean of the members' probabilities, sharpened or
    softened by the size of the weights (their sum is the inverse temperature)."""
    matrix = np.concatenate([w * np.eye(N_CLASSES) for w in weights], axis=0)
    size = len(weights) * N_CLASSES
    return DenseHead(np.zeros(size), np.ones(size), [matrix], [np.zeros(N_CLASSES)], np.arange(N_CLASSES))


def stack_features(member_probabilities: list[np.ndarray]) -> np.ndarray:
    """The stacker's input: log-probabilities of every member, side by side."""
    return np.concatenate([np.log(np.clip(p, 1e-6, 1.0)) for p in member_probabilities], axis=1)
