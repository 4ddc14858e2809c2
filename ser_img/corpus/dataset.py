"""Labelled images from a rendered folder, ready for training or scoring."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_img.features.extractors import read_features
from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS
from ser_img.corpus.manifest import ManifestRow, read_manifest, read_settings
from ser_img.features.spectrogram import RenderSettings, read_png

UNKNOWN_SPEAKER = "unknown"


@dataclass
class LabelledImages:
    images: np.ndarray  # (n, height, width, 3) uint8
    features: np.ndarray  # (n, d) float32, ser_img.features.extractors of each clip (descriptors, functionals)
    labels: np.ndarray  # indices into EMOTIONS
    speakers: list[str]
    rows: list[ManifestRow]
    settings: RenderSettings
    unlabelled: int  # rendered clips left out for want of a label
    corpora: np.ndarray | None = None  # per clip, the corpus (its rendered folder's name)

    def __post_init__(self):
        if self.corpora is None:
            self.corpora = np.array(["data"] * len(self.labels))


def load_corpora(folders: list[Path], with_images: bool = True) -> LabelledImages:
    """Several rendered folders, one corpus each (named after its folder), as one dataset.

    Their render settings must agree but for the simulated channel: one model renders one
    way, and copies of a corpus through a telephone channel or under drawn recording
    conditions (`channel` "mix") are training data like any other.
    """
    folders = [Path(f) for f in folders]
    parts = [load_labelled_images(f, with_images) for f in folders]
    for part in parts:
        part.settings = dataclasses.replace(part.settings, channel="", condition_seed=0)
    names = [f.resolve().name for f in folders]
    if len(set(names)) < len(names):
        raise UsageError(f"two image folders share a name ({', '.join(names)}): corpora are named after their folders")
    for folder, part in zip(folders[1:], parts[1:]):
        if part.settings != parts[0].settings:
            raise UsageError(f"{folder}: rendered with other settings than {folders[0]}; render both the same way")
    if len(parts) == 1:
        parts[0].corpora = np.array([names[0]] * len(parts[0].labels))
        return parts[0]
    return LabelledImages(
        images=np.concatenate([p.images for p in parts]), features=np.concatenate([p.features for p in parts]),
        labels=np.concatenate([p.labels for p in parts]), speakers=[s for p in parts for s in p.speakers],
        rows=[r for p in parts for r in p.rows], settings=parts[0].settings,
        unlabelled=sum(p.unlabelled for p in parts),
        corpora=np.concatenate([[n] * len(p.labels) for n, p in zip(names, parts)]))


def load_labelled_images(folder: Path, with_images: bool = True) -> LabelledImages:
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder; render audio into it with 'ser-img render' first")
    settings = read_settings(folder)
    if settings is None:
        raise UsageError(f"{folder}: no render_settings.json; render audio into it with 'ser-img render' first")
    rendered = [r for r in read_manifest(folder) if r.status == "ok"]
    rows = [r for r in rendered if r.label in EMOTIONS]
    if not rows:
        raise UsageError(f"{folder}: none of the {len(rendered)} rendered clips has an emotion label; name "
                         "them as RAVDESS, TESS, SAVEE or CREMA-D do, or put them in folders named after "
                         f"the emotions (my_data/angry/x.wav: {', '.join(EMOTIONS)}), then render again")
    if not with_images:  # features alone, for experiments on cached features
        images = np.zeros((len(rows), settings.height, settings.width, 3), np.uint8)
    else:
        images = np.stack([read_png(folder / r.image) for r in rows])
    if images.shape[1:3] != (settings.height, settings.width):
        raise UsageError(f"{folder}: images are {images.shape[1:3]}, render settings say "
                         f"{(settings.height, settings.width)}; re-render with --force")
    return LabelledImages(
        images=images,
        features=np.stack([read_features(folder / r.image) for r in rows]),
        labels=np.array([EMOTIONS.index(r.label) for r in rows]),
        speakers=[r.speaker or UNKNOWN_SPEAKER for r in rows],
        rows=rows,
        settings=settings,
        unlabelled=len(rendered) - len(rows),
    )
