"""Render settings and images on disk, descriptors, openSMILE functionals and the extractor
registry (ser_img.features; the image itself is tests/test_render.py's, the encoder test_encoder.py's)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ser_img.errors import UsageError
from ser_img.features.descriptors import descriptors
from ser_img.features.extractors import (
    DESCRIPTOR_SIZE,
    active_extractors,
    feature_blocks,
    feature_path,
    read_features,
    render_inputs,
    render_inputs_batch,
    write_features,
)
from ser_img.features.functionals import feature_count, functionals
from ser_img.features.spectrogram import RenderSettings, fit_window, read_png, write_png
from tests.sounds import tone

RATE = 16000
PLAIN = RenderSettings(height=16, width=16, encoder_layer=0, whisper_blocks=())


@pytest.mark.parametrize("change, message", [
    ({"colormap": "jet"}, "colour map"), ({"n_mels": 0}, "positive"), ({"functionals": "GeMAPS"}, "openSMILE"),
    ({"channel": "radio"}, "unknown channel"), ({"segmenter": "webrtc"}, "unknown segmenter"),
    ({"encoder_layer": 4}, "encoder_layer"), ({"sample_rate": 22050}, "16-kHz"),
    ({"fmax": 9000.0}, "Nyquist")])
def test_bad_render_settings_are_refused(change, message):
    with pytest.raises(UsageError, match=message):
        RenderSettings(**change)


def test_settings_round_trip_and_their_fingerprint_follows_every_setting():
    settings = RenderSettings(segmenter="silero", width=64)
    assert RenderSettings.from_dict(settings.to_dict()) == settings
    assert "segmenter" not in RenderSettings().to_dict()  # the default leaves old fingerprints alone
    assert RenderSettings().fingerprint() == RenderSettings().fingerprint() != settings.fingerprint()
    assert replace(settings, width=65).fingerprint() != settings.fingerprint()
    with pytest.raises(UsageError, match="unknown render settings: colour"):
        RenderSettings.from_dict({"colour": 1})


def test_fit_window_centres_every_clip_to_the_window():
    settings = RenderSettings(window_s=1.0)
    for seconds in (0.3, 2.5):
        assert len(fit_window(tone(seconds, RATE), settings)) == RATE


def test_png_round_trip_and_unreadable_images(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_png(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(read_png(tmp_path / "a.png"), rgb)
    (tmp_path / "b.png").write_bytes(b"nope")
    with pytest.raises(UsageError, match="not a readable image"):
        read_png(tmp_path / "b.png")


def test_descriptors_are_fixed_length_and_level_independent():
    noise = 1e-3 * np.random.default_rng(0).standard_normal(RATE).astype(np.float32)  # no empty bands
    clip = tone(1.0, RATE, 220) + tone(1.0, RATE, 1500, amplitude=0.05) + noise
    values = descriptors(clip, PLAIN)
    assert values.shape == (DESCRIPTOR_SIZE,) and values.dtype == np.float32 and np.isfinite(values).all()
    np.testing.assert_allclose(descriptors(clip * 0.1, PLAIN), values, rtol=1e-2, atol=1e-2)
    assert np.abs(descriptors(tone(1.0, RATE, 440) + noise, PLAIN) - values).max() > 1.0
    assert descriptors(tone(0.05, RATE), PLAIN).shape == (DESCRIPTOR_SIZE,)  # shorter than a frame or two


def test_feature_blocks_follow_the_active_extractors():
    assert [e.name for e in active_extractors(PLAIN)] == ["desc"]
    assert feature_blocks(PLAIN) == {"desc": slice(0, DESCRIPTOR_SIZE)}
    with_encoder = feature_blocks(replace(PLAIN, encoder_layer=2))
    assert list(with_encoder) == ["desc", "enc"] and with_encoder["enc"].start == DESCRIPTOR_SIZE
    everything = feature_blocks(replace(PLAIN, encoder_layer=2, whisper_blocks=(2, 3)))
    assert list(everything) == ["desc", "enc", "whisper"] and everything["whisper"].stop - everything["whisper"].start == 1536


def test_levelled_inputs_do_not_change_with_the_recording_level():
    """Every member reads the clip at one active speech level: a clip 30 dB quieter or 20 dB
    louder gives the same features and image (to float rounding; with Whisper in int8, to a
    quantisation step, which a rounding-sized change of its input can cross: measured 5e-3)."""
    levelled = replace(PLAIN, encoder_layer=2, whisper_blocks=(2,), whisper_precision="float32")
    clip = np.concatenate([tone(0.6, RATE, 180), np.zeros(RATE // 4, np.float32), tone(0.6, RATE, 260)])
    clip = clip + 1e-3 * np.random.default_rng(1).standard_normal(len(clip)).astype(np.float32)
    for settings, tolerance in ((levelled, 2e-3), (replace(levelled, whisper_precision="int8"), 1.5e-2)):
        image, features = render_inputs(clip, settings)
        for db in (-30.0, 20.0):
            other_image, other = render_inputs(clip * np.float32(10 ** (db / 20)), settings)
            np.testing.assert_allclose(other, features, rtol=tolerance, atol=tolerance)
            assert np.abs(other_image.astype(int) - image).max() <= 1
    unlevelled = replace(levelled, level_dbfs=0.0)
    assert not np.allclose(render_inputs(clip * np.float32(0.03), unlevelled)[1], render_inputs(clip, unlevelled)[1],
                           rtol=2e-3, atol=2e-3)  # the encoders do read the level when it is left alone


def test_settings_of_renders_before_levelling_and_whisper_read_as_they_were():
    """A render_settings.json or model.json written before these settings existed keeps
    meaning what it meant (no levelling, no Whisper), and keeps its fingerprint."""
    old = {k: v for k, v in RenderSettings().to_dict().items() if k not in ("level_dbfs", "whisper_blocks")}
    read = RenderSettings.from_dict(old)
    assert read.level_dbfs == 0.0 and read.whisper_blocks == ()
    assert read.to_dict() == old
    new = RenderSettings()
    assert RenderSettings.from_dict(json_round_trip(new.to_dict())) == new
    with pytest.raises(UsageError, match="whisper_blocks"):
        RenderSettings(whisper_blocks=(5,))


def test_whisper_precision_is_a_render_setting_that_older_models_read_as_float32():
    """Models and renders made before Whisper ran in int8 keep their float32 encoder (and
    their fingerprint); new ones record int8 and its file in the model's checksums."""
    from ser_img.features import whisper
    from ser_img.store.manifest import extractor_files

    new = RenderSettings()
    assert new.whisper_precision == "int8" and new.to_dict()["whisper_precision"] == "int8"
    old = {k: v for k, v in new.to_dict().items() if k != "whisper_precision"}
    read = RenderSettings.from_dict(old)
    assert read.whisper_precision == "float32" and read.to_dict() == old
    assert f"encoders/{whisper.LITE_WEIGHTS.name}" in extractor_files(new)
    assert f"encoders/{whisper.WEIGHTS.name}" not in extractor_files(new)
    assert f"encoders/{whisper.WEIGHTS.name}" in extractor_files(read)
    with pytest.raises(UsageError, match="block 4"):
        RenderSettings(whisper_blocks=(2, 4))
    with pytest.raises(UsageError, match="precision"):
        RenderSettings(whisper_precision="float16")
    assert RenderSettings(whisper_blocks=(2, 4), whisper_precision="float32").whisper_blocks == (2, 4)


def json_round_trip(values: dict) -> dict:
    import json

    return json.loads(json.dumps(values))


def test_render_inputs_are_an_image_and_the_blocks_side_by_side():
    clips = [tone(0.8, RATE, 200), tone(1.2, RATE, 600)]
    batch = render_inputs_batch(clips, PLAIN)
    for clip, (image, features) in zip(clips, batch):
        assert image.shape == (16, 16, 3) and features.shape == (DESCRIPTOR_SIZE,)
        alone_image, alone = render_inputs(clip, PLAIN)
        np.testing.assert_array_equal(alone_image, image)
        np.testing.assert_array_equal(alone, features)


def test_feature_files_sit_beside_their_image(tmp_path):
    image = tmp_path / "clip.png"
    write_features(image, np.arange(3))
    assert feature_path(image) == tmp_path / "clip.npy"
    loaded = read_features(image)
    assert loaded.dtype == np.float32 and loaded.tolist() == [0, 1, 2]
    feature_path(image).write_bytes(b"broken")
    with pytest.raises(UsageError, match="unreadable features"):
        read_features(image)


def test_opensmile_functionals_have_the_sets_length_even_for_tiny_clips():
    count = feature_count("eGeMAPSv02")
    assert count == 88
    for seconds in (0.1, 1.0):
        values = functionals(tone(seconds, RATE, 220), RATE, "eGeMAPSv02")
        assert values.shape == (count,) and values.dtype == np.float32 and np.isfinite(values).all()
    assert feature_blocks(replace(PLAIN, functionals="eGeMAPSv02"))["smile"] == slice(DESCRIPTOR_SIZE, DESCRIPTOR_SIZE + 88)
