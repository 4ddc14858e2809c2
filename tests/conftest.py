"""Tiny synthetic corpora and models shared by the tests (no test reads ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_img.ensemble.settings import TrainSettings
from ser_img.members.settings import CnnSettings
from ser_img.features.spectrogram import RenderSettings
from ser_img.corpus.synth import generate_corpus

# Small images and few epochs: the tests check behaviour, not accuracy.
TINY_RENDER = RenderSettings(height=32, width=32, n_mels=32, window_s=2.0)
TINY_TRAIN = TrainSettings(max_folds=3, cnn=CnnSettings(channels=(8, 16), embedding_size=16, epochs=2))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Three synthetic speakers, one clip per emotion and statement: 48 WAV files."""
    root = tmp_path_factory.mktemp("corpus")
    generate_corpus(root, actors=[1, 2, 3], sample_rate=16000)
    return root


@pytest.fixture(scope="session")
def images(corpus, tmp_path_factory) -> Path:
    from pipelines.render import render_folder

    out = tmp_path_factory.mktemp("images")
    render_folder([corpus], out, TINY_RENDER, workers=1)
    return out


@pytest.fixture(scope="session")
def stack_model(images, tmp_path_factory) -> Path:
    from pipelines.train import train

    out = tmp_path_factory.mktemp("models") / "stack"
    train(images, "stack", out, TINY_TRAIN)
    return out


@pytest.fixture(scope="session")
def recognizer(stack_model):
    from ser_img.recognizer import EmotionRecognizer

    return EmotionRecognizer.load(stack_model)


@pytest.fixture(scope="session")
def server_url(recognizer):
    """The HTTP server on a free loopback port, over the session's tiny model."""
    from pipelines.serve import BackgroundServer, create_app

    with BackgroundServer(create_app(recognizer)) as url:
        yield url


def write_long_recording(path: Path, sample_rate: int = 16000) -> tuple[Path, list[tuple[float, float]]]:
    """Synthetic speech, 4 s of digital silence, more speech: (path, voiced stretches in s)."""
    import numpy as np
    import soundfile

    from ser_img.corpus.synth import synth_clip

    rng = np.random.default_rng(7)
    parts, voiced, t = [], [], 0.0
    for index, emotion in enumerate(["angry", "sad", None, "happy", "calm"]):
        clip = np.zeros(4 * sample_rate, np.float32) if emotion is None else synth_clip(
            emotion, 2, 1 + index % 2, 1, rng, sample_rate)
        if emotion is not None:
            voiced.append((t, t + len(clip) / sample_rate))
        parts.append(clip)
        t += len(clip) / sample_rate
    soundfile.write(str(path), np.concatenate(parts), sample_rate, subtype="PCM_16")
    return path, voiced
