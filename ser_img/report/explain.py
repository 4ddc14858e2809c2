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
# The picture's fixed scale: a cell is drawn at full brightness when hiding it lowers the
# probability by SCALE_MAX or more, so a small effect looks small on every picture.
SCALE_MAX = 0.25
# Drops below this are noise and drawn dark: about the shipped model's calibration error
# (ECE 0.017), the smallest change in a probability that can be read as a change at all.
NOISE_FLOOR = 0.02


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


def stands_out(importance: np.ndarray) -> bool:
    """Whether any region matters more than noise (its hiding lowers the probability by NOISE_FLOOR or more)."""
    return bool(np.max(importance, initial=0.0) >= NOISE_FLOOR)


def summary(importance: np.ndarray, label: str) -> str:
    """The explanation in one plain sentence."""
    peak = float(np.max(importance, initial=0.0))
    if not stands_out(importance):
        return (f"Nothing stands out: hiding any one region changes the {label} probability by less than "
                f"{NOISE_FLOOR:.2f}, which is within noise.")
    return f"Hiding the brightest region lowers the {label} probability by {peak:.2f}."


def heat(importance: np.ndarray) -> np.ndarray:
    """Brightness 0..1 per cell on the fixed scale; drops under the noise floor are 0."""
    values = np.where(importance >= NOISE_FLOOR, importance, 0.0)
    return np.clip(values / SCALE_MAX, 0.0, 1.0).astype(np.float32)


def overlay(image: np.ndarray, importance: np.ndarray) -> np.ndarray:
    """The image darkened, with the cells that matter lit in red-yellow on the fixed scale, and
    under it a legend of that scale: the drop in the predicted class's probability (RGB uint8)."""
    height, width = image.shape[:2]
    scale = max(1, 256 // max(height, width))
    base = cv2.resize(image, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST)
    level = cv2.resize(heat(importance), (width * scale, height * scale), interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap(np.uint8(255 * level), cv2.COLORMAP_HOT)[:, :, ::-1].astype(np.float32)
    alpha = (0.75 * level)[:, :, None]
    blended = (1 - alpha) * (0.55 * base.astype(np.float32)) + alpha * colour
    picture = np.clip(blended, 0, 255).astype(np.uint8)
    return np.concatenate([picture, legend(picture.shape[1], stands_out(importance))])


def legend(width: int, anything: bool) -> np.ndarray:
    """A strip under the picture: the colour scale from 0 to SCALE_MAX (probability drop), or
    the words "nothing stands out" when no cell passed the noise floor."""
    strip = np.full((44, width, 3), 255, np.uint8)
    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    left, right = 8, width - 8
    ramp = np.linspace(0, 1, right - left, dtype=np.float32)
    bar = cv2.applyColorMap(np.uint8(255 * ramp)[None, :], cv2.COLORMAP_HOT)[:, :, ::-1]
    strip[4:14, left:right] = bar
    cv2.putText(strip, "0", (left, 27), font, 0.35, black, 1, cv2.LINE_AA)
    cv2.putText(strip, f"{SCALE_MAX:.2f}+", (right - 34, 27), font, 0.35, black, 1, cv2.LINE_AA)
    text = "drop in probability if hidden" if anything else "nothing stands out (all < noise)"
    cv2.putText(strip, text, (left + 22, 27), font, 0.35, black, 1, cv2.LINE_AA)
    cv2.putText(strip, f"noise floor {NOISE_FLOOR:.2f}", (left, 40), font, 0.33, black, 1, cv2.LINE_AA)
    return strip
