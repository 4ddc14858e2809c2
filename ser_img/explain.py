"""Which time-frequency regions of a spectrogram image drove a decision: occlusion.

Each cell of a grid over the image is painted over with the colour of silence in turn,
and the model scores every painted copy (forward passes only, in the inference runtime:
no gradients, no TensorFlow). A cell's importance is how much hiding it lowers the
probability of the predicted class; cells whose hiding raises it count as zero.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

GRID = 8  # cells per side: 64 forward passes per explanation


def cells(height: int, width: int, grid: int = GRID) -> list[tuple[slice, slice]]:
    """The grid's cells as (rows, columns) slices, row by row from the top."""
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    return [(slice(rows[i], rows[i + 1]), slice(cols[j], cols[j + 1])) for i in range(grid) for j in range(grid)]


def masked(image: np.ndarray, regions: list[tuple[slice, slice]], fill: np.ndarray) -> np.ndarray:
    """A copy of `image` with every region painted `fill`."""
    copy = image.copy()
    for rows, cols in regions:
        copy[rows, cols] = fill
    return copy


def occlusion(score: Callable[[np.ndarray], np.ndarray], image: np.ndarray, target: int, fill: np.ndarray,
              grid: int = GRID) -> np.ndarray:
    """(grid, grid) drop in class `target`'s probability when each cell is hidden, at least 0.

    `score` maps a stack of images (n, height, width, 3) to probabilities (n, classes).
    """
    regions = cells(*image.shape[:2], grid)
    stack = np.stack([image] + [masked(image, [region], fill) for region in regions])
    probabilities = score(stack)[:, target]
    return np.maximum(probabilities[0] - probabilities[1:], 0.0).reshape(grid, grid)


def overlay(image: np.ndarray, importance: np.ndarray) -> np.ndarray:
    """The image darkened, with the important cells lit in red-yellow (RGB uint8, 2x size)."""
    height, width = image.shape[:2]
    scale = max(1, 256 // max(height, width))
    base = cv2.resize(image, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST)
    peak = float(importance.max())
    heat = importance / peak if peak > 0 else np.zeros_like(importance)
    heat = cv2.resize(heat.astype(np.float32), (width * scale, height * scale), interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap(np.uint8(255 * heat), cv2.COLORMAP_HOT)[:, :, ::-1].astype(np.float32)
    alpha = (0.75 * heat)[:, :, None]
    blended = (1 - alpha) * (0.55 * base.astype(np.float32)) + alpha * colour
    return np.clip(blended, 0, 255).astype(np.uint8)
