"""The CNN member's settings: importable without TensorFlow, recorded whole in every model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CnnSettings:
    channels: tuple[int, ...] = (16, 32, 64, 96)
    embedding_size: int = 64
    dropout: float = 0.3
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    # Training-time perturbation: largest log-factor of the mel-axis (vocal tract length)
    # and time-axis (tempo) stretch; 0 turns it off.
    warp_freq: float = 0.0
    warp_time: float = 0.0
