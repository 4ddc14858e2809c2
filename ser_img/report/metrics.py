"""Scores of predictions against labels, and a confusion-matrix picture."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from ser_img.labels import EMOTIONS

_ALL = list(range(len(EMOTIONS)))


def summary(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, UAR (mean recall over the classes present) and macro-F1 over those classes.

    Given probabilities (n, 8) rather than labels, also their calibration: log-loss, Brier
    score and expected calibration error.
    """
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        return {**summary(y_true, y_pred.argmax(1)), **calibration(y_true, y_pred)}
    present = sorted(set(np.asarray(y_true).tolist()))
    with warnings.catch_warnings():
        # A corpus without some classes is expected: "y_pred contains classes not in y_true" says nothing new.
        warnings.simplefilter("ignore", UserWarning)
        uar = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": uar,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }


ECE_BINS = 10


def calibration(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Log-loss (natural log), Brier score (sum over the classes, mean over clips) and the
    expected calibration error of the top class over `ECE_BINS` equal-width bins."""
    y_true, probabilities = np.asarray(y_true), np.asarray(probabilities, dtype=np.float64)
    truth = probabilities[np.arange(len(y_true)), y_true]
    onehot = np.eye(probabilities.shape[1])[y_true]
    bins = reliability(y_true, probabilities)
    ece = sum(b["n"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / max(len(y_true), 1)
    return {"log_loss": float(-np.mean(np.log(np.clip(truth, 1e-12, 1.0)))),
            "brier": float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1))),
            "ece": float(ece)}


def reliability(y_true: np.ndarray, probabilities: np.ndarray) -> list[dict]:
    """Per confidence bin (top-class probability in (lo, hi]): clips, mean confidence, accuracy."""
    confidence, correct = probabilities.max(1), probabilities.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            rows.append({"low": float(lo), "high": float(hi), "n": int(inside.sum()),
                         "confidence": float(confidence[inside].mean()), "accuracy": float(correct[inside].mean())})
    return rows


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(logits / T) (a 1-D search on log T)."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))

    return float(np.exp(minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded").x))


def report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """`summary` plus per-class precision/recall/F1/support and the confusion matrix."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=_ALL, zero_division=0
    )
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(EMOTIONS, precision, recall, f1, support)
    }
    matrix = confusion_matrix(y_true, y_pred, labels=_ALL)
    return {**summary(y_true, y_pred), "per_class": per_class, "labels": list(EMOTIONS),
            "confusion_matrix": matrix.tolist()}


def confusion_png(matrix: list[list[int]], title: str) -> np.ndarray:
    """A row-normalised confusion matrix as an RGB image (rows: true, columns: predicted)."""
    counts = np.asarray(matrix, dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cell, left, top = 56, 110, 130
    size = len(EMOTIONS)
    image = np.full((top + size * cell + 20, left + size * cell + 20, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title[:70], (10, 24), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "rows: true class, columns: predicted", (10, 46), font, 0.42, (60, 60, 60), 1, cv2.LINE_AA)
    for i, name in enumerate(EMOTIONS):
        cv2.putText(image, name, (8, top + i * cell + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        _vertical_text(image, name, left + i * cell + cell // 2 - 6, top - 6, font)
        for j in range(size):
            shade = int(255 * (1 - share[i, j]))
            corner = (left + j * cell, top + i * cell)
            cv2.rectangle(image, corner, (corner[0] + cell - 2, corner[1] + cell - 2), (shade, shade, 255), -1)
            ink = (255, 255, 255) if share[i, j] > 0.5 else (0, 0, 0)
            cv2.putText(image, str(int(counts[i, j])), (corner[0] + 14, corner[1] + 34), font, 0.5, ink, 1,
                        cv2.LINE_AA)
    return image


def reliability_png(y_true: np.ndarray, probabilities: np.ndarray, title: str) -> np.ndarray:
    """A reliability diagram: accuracy against confidence per bin (bars), the diagonal of a
    perfectly calibrated model, and the clips per bin; ECE in the title."""
    bins = reliability(y_true, probabilities)
    ece = calibration(y_true, probabilities)["ece"]
    size, left, top, bottom = 400, 70, 60, 60
    image = np.full((top + size + bottom, left + size + 30, 3), 255, np.uint8)
    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (170, 170, 170)
    x0, y0 = left, top + size  # origin, bottom left
    for b in bins:
        x1, x2 = x0 + int(b["low"] * size) + 2, x0 + int(b["high"] * size) - 2
        cv2.rectangle(image, (x1, y0 - int(b["accuracy"] * size)), (x2, y0), (200, 120, 40), -1)
        cv2.putText(image, str(b["n"]), (x1, y0 - int(max(b["accuracy"], b["confidence"]) * size) - 6), font, 0.35, black, 1, cv2.LINE_AA)
        cy = y0 - int(b["confidence"] * size)
        cv2.line(image, (x1, cy), (x2, cy), (220, 40, 40), 2)  # RGB: red
    cv2.line(image, (x0, y0), (x0 + size, y0 - size), grey, 1, cv2.LINE_AA)
    cv2.rectangle(image, (x0, y0 - size), (x0 + size, y0), black, 1)
    for tick in range(0, 11, 2):
        v = tick / 10
        cv2.putText(image, f"{v:.1f}", (x0 + int(v * size) - 10, y0 + 18), font, 0.4, black, 1, cv2.LINE_AA)
        cv2.putText(image, f"{v:.1f}", (x0 - 32, y0 - int(v * size) + 4), font, 0.4, black, 1, cv2.LINE_AA)
    cv2.putText(image, f"{title[:48]}  ECE {ece:.3f}", (10, 24), font, 0.5, black, 1, cv2.LINE_AA)
    cv2.putText(image, "bars: accuracy; red: mean confidence; grey: ideal", (10, 46), font, 0.4, black, 1,
                cv2.LINE_AA)
    cv2.putText(image, "confidence (top-class probability)", (x0 + 60, y0 + 42), font, 0.45, black, 1, cv2.LINE_AA)
    return image
def _vertical_text(image: np.ndarray, text: str, x: int, bottom: int, font) -> None:
    """`text` written bottom to top with its baseline at column `x`, ending at row `bottom`."""
    (width, height), base = cv2.getTextSize(text, font, 0.45, 1)
    strip = np.full((height + base + 2, width + 2, 3), 255, np.uint8)
    cv2.putText(strip, text, (1, height + 1), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    turned = np.rot90(strip).copy()  # counter-clockwise: reads bottom to top
    rows, cols = turned.shape[:2]
    top = max(0, bottom - rows)
    image[top:bottom, x : x + cols] = np.minimum(image[top:bottom, x : x + cols], turned[rows - (bottom - top):])
