"""Training settings; recorded in every model so that a run can be repeated exactly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CnnSettings:
    channels: tuple[int, ...] = (16, 32, 64, 96)
    embedding_size: int = 64
    dropout: float = 0.3
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    max_folds: int = 6  # speaker-grouped folds; fewer when there are fewer speakers
    # Share of each fold's training speakers kept from its CNN to train its heads on.
    head_share: float = 0.25
    cnn: CnnSettings = field(default_factory=CnnSettings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
