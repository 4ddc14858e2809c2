"""Training that keeps the CNNs of a model already trained (`ser-img train --keep-cnns MODEL`).

The CNNs are most of a training run's hour; the members with no CNN in them take minutes.
When only what those members read has changed (Whisper's precision or blocks, openSMILE's
functionals), a new model can keep MODEL's CNNs and the heads on their embeddings fold by
fold, and fit the other members and the stack again on the same folds: every clip's
out-of-fold probabilities still come from members that never heard its speaker.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ser_img.corpus.dataset import LabelledImages
from ser_img.ensemble.model import FoldModel
from ser_img.ensemble.settings import TrainSettings
from ser_img.errors import UsageError
from ser_img.features.extractors import feature_blocks
from ser_img.members.registry import CNN, REGISTRY
from ser_img.members.settings import CnnSettings

# The render settings that only members with no CNN in them read: all that may differ.
PLAIN_ONLY = ("functionals", "whisper_blocks", "whisper_precision")


def kept_folds(model_dir: Path, data: LabelledImages, folds, members: list[str],
               settings: TrainSettings) -> tuple[list[FoldModel], TrainSettings, str]:
    """MODEL's fold models with its CNNs and the heads on them that `members` asks for (no
    other member), checked to fit this training; the training settings with MODEL's CNN
    settings (those its CNNs were trained with); and MODEL's name."""
    from ser_img.store.load import load_model

    model_dir = Path(model_dir)
    model = load_model(model_dir)
    wanted = [m for m in members if m != CNN and REGISTRY[m].with_cnn]
    if CNN not in members:
        raise UsageError("--keep-cnns keeps CNNs: choose --members with cnn or a head on it")
    missing = [m for m in wanted if any(m not in heads for fold in model.folds for heads in fold.heads)]
    if not model.folds or not model.folds[0].cnns or missing:
        raise UsageError(f"{model_dir}: has no {', '.join(missing) or 'CNNs'} to keep (trained without, or given "
                         "weight 0 by its stack and not saved): leave it out of --members, or train it")
    _check_folds(model_dir, data, folds)
    _check_settings(model_dir, model.render_settings, data.settings)
    trained = model.info["train_settings"]
    cnn = CnnSettings(**{**trained["cnn"], "channels": tuple(trained["cnn"]["channels"])})
    settings = dataclasses.replace(settings, cnn=cnn, cnns_per_fold=trained["cnns_per_fold"])
    kept = [FoldModel(cnns=fold.cnns, heads=[{n: h for n, h in heads.items() if n in wanted} for heads in fold.heads])
            for fold in model.folds]
    return kept, settings, model.name


def kept_probabilities(fold: FoldModel, data: LabelledImages, test_idx: np.ndarray,
                       members: list[str]) -> dict[str, np.ndarray]:
    """The kept CNNs' and their heads' probabilities for the fold's held-out clips."""
    names = [m for m in members if m == CNN or REGISTRY[m].with_cnn]
    return fold.member_probabilities(data.images[test_idx], data.features[test_idx], feature_blocks(data.settings),
                                     names)


def _check_folds(model_dir: Path, data: LabelledImages, folds) -> None:
    """Each fold must hold out the speakers it held out when MODEL was trained: its CNNs
    never heard them."""
    recorded = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8")).get("folds", [])
    speakers = np.array(data.speakers)
    ours = [sorted(set(speakers[test_idx])) for _, test_idx in folds]
    if [sorted(fold["test_speakers"]) for fold in recorded] != ours:
        raise UsageError(f"{model_dir}: its folds held out other speakers than these images give; train on the same "
                         "--images folders, in the same order, with the same --folds")


def _check_settings(model_dir: Path, theirs, ours) -> None:
    """The images and every feature a kept head reads must be rendered as MODEL's were. (A
    saved model drops the voice encoder's layer when no member it kept reads it.)"""
    theirs, ours = theirs.to_dict(), ours.to_dict()
    differ = [name for name, value in theirs.items() if name not in PLAIN_ONLY and value != ours.get(name)
              and not (name == "encoder_layer" and value == 0)]
    if differ:
        raise UsageError(f"{model_dir}: its CNNs read images rendered otherwise ({', '.join(differ)} differ); "
                         "render with its settings, or train the CNNs anew")
