"""The fitted ensemble: per fold, its CNNs, the heads on their embeddings and the members with
no CNN in them, and the stacker that combines them; `predict_signals` goes from audio to
probabilities. Saving and loading it is `ser_img.store`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ser_img.features.extractors import feature_blocks, render_inputs
from ser_img.features.spectrogram import RenderSettings
from ser_img.labels import EMOTIONS
from ser_img.members.heads import DenseHead, stack_features
from ser_img.members.registry import CNN, REGISTRY
from ser_img.runtime.lite import LiteCnn


@dataclass
class FoldModel:
    """One speaker-grouped fold: cross-fitted CNNs, each with its embedding heads, and the
    members with no CNN in them."""

    cnns: list[LiteCnn] = field(default_factory=list)
    heads: list[dict] = field(default_factory=list)  # per CNN: head name -> head
    plain: dict = field(default_factory=dict)  # members with no CNN in them, by name

    def member_probabilities(self, images: np.ndarray, features: np.ndarray, blocks: dict,
                             members: list[str]) -> dict[str, np.ndarray]:
        """Probabilities of each member (in `members` order, "cnn" included when the model
        has CNNs)."""
        n = len(features)
        totals = {name: np.zeros((n, len(EMOTIONS))) for name in members}
        for cnn, heads in zip(self.cnns, self.heads):
            embeddings, probs = cnn.outputs(images)
            if CNN in totals:
                totals[CNN] += probs / len(self.cnns)
            for name, head in heads.items():
                totals[name] += head.predict_proba(REGISTRY[name].inputs(embeddings, features, blocks)) / len(self.cnns)
        for name, member in self.plain.items():
            totals[name] = member.predict_proba(REGISTRY[name].inputs(None, features, blocks))
        return totals


@dataclass
class EmotionModel:
    head: str
    render_settings: RenderSettings
    folds: list[FoldModel]
    stacker: DenseHead | None = None
    info: dict = field(default_factory=dict)  # training settings, members, metrics summary, versions

    @property
    def members(self) -> list[str]:
        """Every member the model holds, "cnn" first when it has CNNs: the stack's input order."""
        return list(self.info.get("members", [CNN]))

    def member_probabilities(self, images: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        """Class probabilities of each member the model holds and the stack, averaged over the
        folds. The stack combines each fold's own members (a model holds only those the
        stack weighs: training leaves out the rest)."""
        blocks = feature_blocks(self.render_settings)
        totals: dict[str, np.ndarray] = {}
        for fold in self.folds:
            members = fold.member_probabilities(images, features, blocks, self.members)
            if self.stacker is not None:
                members["stack"] = self.stacker.predict_proba(stack_features(list(members.values())))
            for name, probs in members.items():
                totals[name] = totals.get(name, 0.0) + probs / len(self.folds)
        return totals

    def predict_proba(self, images: np.ndarray, features: np.ndarray) -> np.ndarray:
        members = self.member_probabilities(images, features)
        return members["stack" if self.head == "stack" else self.head]

    def predict_signals(self, signals: list[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 8) for mono float32 clips at `render_settings.sample_rate`.

        The one entry point from audio to probabilities: every caller goes through it (or
        through `render_inputs` then `predict_prepared`, to render elsewhere: in worker
        processes, or once for both the scores and the image shown to a user).
        """
        return self.predict_prepared([render_inputs(s, self.render_settings) for s in signals])

    def predict_prepared(self, prepared: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Probabilities for clips already turned into (image, features) by `render_inputs`."""
        if not prepared:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float64)
        images, features = zip(*prepared)
        return self.predict_proba(np.stack(images), np.stack(features))

    @property
    def name(self) -> str:
        return self.info.get("name", "model")
