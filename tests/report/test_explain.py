"""Explanations: occlusion maps computed with the inference runtime, and whether they are right."""

import base64

import numpy as np
import pytest

from ser_img.audio.decode import load_audio
from ser_img.report.explain import GRID, cells, masked
from ser_img.labels import EMOTIONS
from ser_img.features.extractors import render_inputs
from ser_img.features.spectrogram import to_image


@pytest.fixture(scope="module")
def shipped():
    """The shipped model: its CNNs carry weight in its stack (the tiny test stack may give them none)."""
    from ser_img.store.load import PACKAGED_MODEL
    from ser_img.recognizer import EmotionRecognizer

    return EmotionRecognizer.load(PACKAGED_MODEL)


def test_hiding_the_marked_regions_lowers_the_prediction_more_than_hiding_random_ones(shipped):
    from pipelines.demo import EXAMPLES

    recognizer = shipped
    rng = np.random.default_rng(0)
    silence = to_image(np.zeros((1, 1), np.float32), recognizer.settings)[0, 0]
    k = 6  # cells hidden at once, of GRID * GRID
    top_drops, random_drops = [], []
    for clip in sorted(EXAMPLES.glob("*.flac")):  # real speech, one clip per emotion
        image, descriptors = render_inputs(load_audio(clip, recognizer.sample_rate).samples, recognizer.settings)
        target = int(recognizer.score_images(image[None], descriptors)[0].argmax())
        importance = recognizer.explain(image, descriptors, target).ravel()
        regions = cells(*image.shape[:2], GRID)
        top = [regions[i] for i in np.argsort(-importance)[:k]]
        chance = [[regions[i] for i in rng.choice(len(regions), k, replace=False)] for _ in range(10)]
        stack = np.stack([image, masked(image, top, silence)] + [masked(image, c, silence) for c in chance])
        p = recognizer.score_images(stack, descriptors)[:, target]
        top_drops.append(p[0] - p[1])
        random_drops.append(np.mean(p[0] - p[2:]))
    assert np.mean(top_drops) > np.mean(random_drops)
    assert np.mean(np.array(top_drops) >= np.array(random_drops)) >= 0.75


def test_an_explanation_comes_with_the_record_and_needs_no_tensorflow(recognizer, corpus):
    result = recognizer.predict(corpus / "Actor_01" / "03-01-05-01-01-01-01.wav", explain=True)
    assert result.explanation.shape == (GRID, GRID) and (result.explanation >= 0).all()
    record = result.to_dict()["explanation"]
    assert record["method"] == "occlusion" and record["label"] == result.label in EMOTIONS
    assert base64.b64decode(record["png"]).startswith(b"\x89PNG")
    assert record["window"] == [0.0, result.duration_s] and len(record["grid"]) == GRID
