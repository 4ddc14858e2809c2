"""Training settings: one object drives a whole run (CNN, each member, stack, calibration),
is validated once, and is recorded whole in every model so that a run can be repeated exactly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ser_img.errors import UsageError
from ser_img.members.settings import CnnSettings


CORPUS_WEIGHTINGS = ("clips", "equal", "sqrt")


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    max_folds: int = 6  # speaker-grouped folds; fewer when there are fewer speakers
    # Each fold's training speakers are split into this many parts; for each part, one CNN
    # learns from the other parts and its heads from that part (cross-fitting): every
    # training speaker reaches the heads, through a CNN that never heard it.
    cnns_per_fold: int = 2
    # The members a stack trains (names in ser_img.members.registry.REGISTRY, and "cnn"); the saved
    # model keeps those its stack gives weight.
    # XGBoost, LightGBM and the openSMILE regression ("xgb", "lgbm", "smile") are left out by
    # default: all three earned weight 0 in the previous model, and on ten times the clips the
    # boosted heads alone would take more than the 2-core training budget (docs/results.md).
    members: tuple[str, ...] = ("cnn", "mlp", "desc", "enc", "whisper")
    # Hyper-parameters that differ from a member's registry defaults: {name: {param: value}}.
    member_params: dict = field(default_factory=dict)
    # How much each corpus weighs when several are trained on: within a corpus every class
    # has the same total weight; then each corpus's total is its clip count ("clips"), the
    # same for all ("equal"), or the square root of its clip count ("sqrt").
    corpus_weighting: str = "sqrt"
    # The home corpus (the first image folder given) takes this share of the total weight,
    # the others the rest (0: no special share). On RAVDESS, 0.5 keeps its CV while the
    # other corpora are added (docs/results.md).
    home_share: float = 0.5
    # What the CNNs learn from: the home corpus's speakers ("home": its clips and their copies
    # under simulated channels and conditions), or every corpus ("all": ten times the images,
    # beyond a 2-core training budget).
    cnn_corpora: str = "home"
    stack_weights: tuple[int, ...] = (0, 1, 2)  # integer weights the vote may give each member
    calibration: str = "temperature"  # "temperature" (learned on out-of-fold predictions) or "none"
    cnn: CnnSettings = field(default_factory=CnnSettings)

    def __post_init__(self):
        if self.max_folds < 2:
            raise UsageError("speaker-grouped training needs at least 2 folds")
        if self.cnns_per_fold < 2:
            raise UsageError("cnns_per_fold must be at least 2 (a CNN's part and its heads' part)")
        if not 0 <= self.home_share < 1 or self.cnn_corpora not in ("home", "all"):
            raise UsageError("home_share must be in [0, 1) and cnn_corpora home or all")
        if self.corpus_weighting not in CORPUS_WEIGHTINGS:
            raise UsageError(f"unknown corpus weighting {self.corpus_weighting!r}; choose from {', '.join(CORPUS_WEIGHTINGS)}")
        from ser_img.members.registry import CNN, REGISTRY

        unknown = [m for m in (*self.members, *self.member_params) if m != CNN and m not in REGISTRY]
        if unknown or not self.members:
            raise UsageError(f"unknown members {', '.join(unknown) or '(none chosen)'}; choose from "
                             f"{', '.join([CNN, *REGISTRY])}")
        for name, params in self.member_params.items():
            wrong = sorted(set(params) - set(REGISTRY[name].hyper_parameters)) if name in REGISTRY else []
            if wrong:
                raise UsageError(f"member {name} has no hyper-parameter {', '.join(wrong)}; it has "
                                 f"{', '.join(REGISTRY[name].hyper_parameters)}")
        if self.calibration not in ("temperature", "none"):
            raise UsageError(f"unknown calibration {self.calibration!r}; choose temperature or none")
        if self.cnn.epochs < 1 or min(self.stack_weights, default=-1) < 0 or not any(self.stack_weights):
            raise UsageError("epochs must be positive and stack weights non-negative, not all zero")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
