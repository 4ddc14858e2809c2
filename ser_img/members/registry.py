"""The members a model can hold: one registry entry each.

A member is a classifier class (hyper-parameters in `__init__`, `fit`, `predict_proba`,
`save`/`load`, see `heads`) plus what it reads: feature blocks by extractor name
(`features.EXTRACTORS`) and, for the heads, "cnn": the embeddings of the CNN it is paired
with. A member that reads "cnn" is trained once per cross-fitted CNN; the others once per
fold. Training, the model store, the CLI's choices and the model card all read this
registry, so a new member is one class, one entry here, and its tests.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from ser_img.members.heads import LgbmHead, LogisticHead, MlpHead, XgbHead

CNN = "cnn"


@dataclass(frozen=True)
class MemberSpec:
    name: str
    cls: type
    reads: tuple[str, ...]  # feature blocks, and CNN for the heads on its embeddings
    params: dict = field(default_factory=dict)  # where it differs from cls's defaults: cls(**params, seed=...)
    about: str = ""  # what it is, for the model card

    @property
    def with_cnn(self) -> bool:
        return CNN in self.reads

    @property
    def hyper_parameters(self) -> tuple[str, ...]:
        """What `TrainSettings.member_params` may set: the class's constructor parameters, less
        the seed (the run's) and a fitted booster."""
        return tuple(name for name in inspect.signature(self.cls).parameters if name not in ("seed", "booster"))

    def build(self, overrides: dict | None, seed: int):
        """An unfitted member: its defaults, changed by `overrides` (TrainSettings.member_params)."""
        return self.cls(**{**self.params, **(overrides or {})}, seed=seed)

    def inputs(self, embeddings: np.ndarray | None, features: np.ndarray, blocks: dict) -> np.ndarray:
        """What it reads of the clips: the CNN's embeddings and the feature blocks the render
        settings have (`features.feature_blocks`), side by side."""
        parts = [embeddings if name == CNN else features[:, blocks[name]]
                 for name in self.reads if name == CNN or name in blocks]
        return np.concatenate(parts, axis=1)

    def usable(self, blocks: dict) -> bool:
        """Whether the render settings give what it reads (a head needs only its CNN)."""
        return self.with_cnn or all(name in blocks for name in self.reads)

    def file(self, fold: int, part: int | None = None) -> str:
        suffix = self.cls.file_name.split(".", 1)[1]
        return f"{self.name}_{fold}.{suffix}" if part is None else f"{self.name}_{fold}_{part}.{suffix}"


_HEAD_READS = (CNN, "desc", "enc")
REGISTRY: dict[str, MemberSpec] = {spec.name: spec for spec in (
    MemberSpec("mlp", MlpHead, _HEAD_READS, {"hidden": 64, "alpha": 1e-2},
               "an MLP on its CNN's embeddings, the descriptors and the voice-encoder vector"),
    MemberSpec("xgb", XgbHead, _HEAD_READS, {"rounds": 200},
               "XGBoost on its CNN's embeddings, the descriptors and the voice-encoder vector"),
    MemberSpec("lgbm", LgbmHead, _HEAD_READS, {"rounds": 200},
               "LightGBM on its CNN's embeddings, the descriptors and the voice-encoder vector"),
    MemberSpec("desc", LogisticHead, ("desc",), {"C": 0.01},
               "a logistic regression on ser-img's hand-written acoustic descriptors"),
    MemberSpec("smile", LogisticHead, ("smile",), {"C": 0.003},
               "a logistic regression on openSMILE's functionals"),
    MemberSpec("enc", LogisticHead, ("enc",), {"C": 0.01},
               "a logistic regression on the pretrained voice encoder's pooled LSTM frame outputs"),
    MemberSpec("whisper", LogisticHead, ("whisper",), {"C": 0.01},
               "a logistic regression on Whisper tiny.en's pooled middle-block outputs"),
)}
# Every name a model can report, in the order tables list them.
MEMBER_ORDER = (CNN, *REGISTRY, "stack")
HEADS = (CNN, *REGISTRY, "stack")  # what `ser-img train --head` may choose


def needs_cnn(names) -> bool:
    """Whether members `names` need CNNs: "cnn" itself, or a head on its embeddings."""
    return any(name == CNN or REGISTRY[name].with_cnn for name in names)


def members_for(head: str, blocks: dict, chosen: tuple[str, ...]) -> list[str]:
    """The members a model of `head` trains, CNN first when any needs it: "stack" trains the
    `chosen` ones (TrainSettings.members) that the render settings allow; any other head
    is that member alone (with the CNN it reads)."""
    names = [n for n in chosen if n == CNN or REGISTRY[n].usable(blocks)] if head == "stack" else [head]
    return ([CNN] if needs_cnn(names) else []) + [n for n in names if n != CNN]
