"""Scores of predictions against labels, and a confusion-matrix picture."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from .labels import EMOTIONS

_ALL = list(range(len(EMOTIONS)))


def summary(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, UAR (mean recall over the classes present) and macro-F1 over those classes."""
    present = sorted(set(np.asarray(y_true).tolist()))
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }


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


def _vertical_text(image: np.ndarray, text: str, x: int, bottom: int, font) -> None:
    """`text` written bottom to top with its baseline at column `x`, ending at row `bottom`."""
    (width, height), base = cv2.getTextSize(text, font, 0.45, 1)
    strip = np.full((height + base + 2, width + 2, 3), 255, np.uint8)
    cv2.putText(strip, text, (1, height + 1), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    turned = np.rot90(strip).copy()  # counter-clockwise: reads bottom to top
    rows, cols = turned.shape[:2]
    top = max(0, bottom - rows)
    image[top:bottom, x : x + cols] = np.minimum(image[top:bottom, x : x + cols], turned[rows - (bottom - top):])
