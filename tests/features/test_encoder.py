"""The NumPy port of resemblyzer's voice encoder reproduces the package's own outputs."""

from pathlib import Path

import numpy as np
import pytest

from ser_img.features import encoder
from ser_img.features.encoder import EncoderSettings, VoiceEncoder, encoder_features, encoder_features_batch
from tests.sounds import reference_arrays

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "resemblyzer_reference.npz"


@pytest.fixture(scope="module")
def reference():
    return reference_arrays(REFERENCE)


def test_mel_frames_match_resemblyzer(reference):
    mel = encoder.mel_frames(reference["preprocessed"])
    assert mel.shape[1] == 40
    np.testing.assert_allclose(mel[:40], reference["mel"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_lstm_frame_outputs_match_resemblyzer(reference, layer):
    outputs = VoiceEncoder().layer_outputs(reference["mel"])
    np.testing.assert_allclose(outputs[layer - 1], reference[f"lstm{layer}"], atol=1e-4)


def test_embedding_matches_resemblyzer(reference):
    embedding = VoiceEncoder().embed_utterance(reference["preprocessed"])
    np.testing.assert_allclose(embedding, reference["embedding"], atol=1e-4)
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)


def test_batch_padding_does_not_change_a_clip(reference):
    clip = reference["preprocessed"]
    short = clip[: len(clip) // 3]
    alone = encoder_features(short)
    together = encoder_features_batch([clip, short])
    assert alone.shape == (encoder.FEATURE_SIZE,)
    np.testing.assert_allclose(together[1], alone, atol=1e-5)
    assert not np.allclose(together[0], alone)


def test_volume_is_raised_never_lowered():
    quiet = np.full(1600, 0.001, np.float32)
    loud = np.full(1600, 0.5, np.float32)
    assert np.sqrt(np.mean(encoder.normalize_volume(quiet) ** 2)) == pytest.approx(10 ** (-30 / 20), rel=1e-3)
    assert np.array_equal(encoder.normalize_volume(loud), loud)
    silent = np.zeros(1600, np.float32)
    assert np.array_equal(encoder.normalize_volume(silent), silent)


def test_layer_setting_changes_the_vector(reference):
    clip = reference["preprocessed"]
    assert not np.allclose(encoder_features(clip, EncoderSettings(layer=1)), encoder_features(clip))


def test_shipped_weights_carry_their_origin():
    import json

    origin = json.loads((encoder.WEIGHTS.parent / "ORIGIN.json").read_text())
    assert origin["package"] == "resemblyzer" and origin["licence"] == "Apache-2.0"
    import hashlib

    assert hashlib.sha256(encoder.WEIGHTS.read_bytes()).hexdigest() == origin["converted_sha256"]
    assert (encoder.WEIGHTS.parent / "LICENSE-resemblyzer").is_file()
