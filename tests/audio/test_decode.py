"""The loader on every format and rate it promises, and on each documented edge case."""

import os

import numpy as np
import pytest
import soundfile

import ser_img.audio.decode
from ser_img.audio.decode import load_audio
from ser_img.errors import AudioError
from ser_img.features.spectrogram import RenderSettings, render
from tests.sounds import dominant_frequency, encode, tone, write

RATE = 16000

FORMATS = [  # (file name, libsndfile format, subtype, source rate)
    ("u8.wav", "WAV", "PCM_U8", 22050),
    ("s16.wav", "WAV", "PCM_16", 44100),
    ("s24.wav", "WAV", "PCM_24", 96000),
    ("s32.wav", "WAV", "PCM_32", 48000),
    ("float.wav", "WAV", "FLOAT", 32000),
    ("double.wav", "WAV", "DOUBLE", 16000),
    ("ulaw.wav", "WAV", "ULAW", 8000),
    ("alaw.wav", "WAV", "ALAW", 8000),
    ("ima.wav", "WAV", "IMA_ADPCM", 11025),
    ("msadpcm.wav", "WAV", "MS_ADPCM", 22050),
    ("gsm.wav", "WAV", "GSM610", 8000),
    ("a.flac", "FLAC", "PCM_16", 192000),
    ("b.flac", "FLAC", "PCM_24", 88200),
    ("a.ogg", "OGG", "VORBIS", 44100),
    ("a.opus", "OGG", "OPUS", 48000),
    ("a.mp3", "MP3", "MPEG_LAYER_III", 44100),
    ("a.aiff", "AIFF", "PCM_16", 8000),
]


@pytest.mark.parametrize("name, format, subtype, rate", FORMATS, ids=[f[0] for f in FORMATS])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_every_format_rate_and_channel_count_decodes_to_mono_16k(tmp_path, name, format, subtype, rate,
                                                                 channels):
    if subtype == "GSM610" and channels > 1:
        pytest.skip("GSM 6.10 is mono only")
    path = write(tmp_path / name, tone(1.0, rate, 440.0, channels), rate, format, subtype)
    audio = load_audio(path, RATE)
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert audio.source_rate == soundfile.info(str(path)).samplerate
    # Codecs add a few ms of priming or padding; the tone itself must survive intact.
    assert audio.duration_s == pytest.approx(1.0, abs=0.1)
    assert len(audio.samples) == pytest.approx(audio.duration_s * RATE, abs=2)
    assert dominant_frequency(audio.samples, RATE) == pytest.approx(440.0, abs=5.0)


def _error(path) -> str:
    with pytest.raises(AudioError) as caught:
        load_audio(path, RATE)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_zero_length_file_is_an_empty_file(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    assert "empty file (0 bytes)" in _error(tmp_path / "zero.wav")


def test_header_without_samples_has_no_samples(tmp_path):
    write(tmp_path / "header.wav", np.zeros(0, np.float32), RATE, "WAV", "PCM_16")
    assert "contains no samples" in _error(tmp_path / "header.wav")


def test_truncated_wav_keeps_the_samples_that_are_there(tmp_path):
    whole = encode(tone(1.0, RATE), RATE, "WAV", "PCM_16")
    (tmp_path / "cut.wav").write_bytes(whole[: 44 + RATE])  # header + half the 16-bit samples
    audio = load_audio(tmp_path / "cut.wav", RATE)
    assert audio.duration_s == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("damage", ["truncated", "scrambled"])
def test_damaged_flac_is_a_decoding_error(tmp_path, damage):
    data = bytearray(encode(tone(1.0, RATE), RATE, "FLAC", "PCM_16"))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[200:600] = np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
    (tmp_path / "bad.flac").write_bytes(bytes(data))
    assert ": cannot decode audio (" in _error(tmp_path / "bad.flac")


@pytest.mark.parametrize("name", ["notes.wav", "notes.flac", "notes.ogg", "notes.mp3", "notes.opus"])
def test_text_with_an_audio_extension_is_not_audio(tmp_path, name):
    (tmp_path / name).write_text("Meeting notes: nothing to hear here.\n" * 50)
    assert "not an audio file, or a format this libsndfile cannot read" in _error(tmp_path / name)


def test_missing_path_and_directory(tmp_path):
    assert "no such file" in _error(tmp_path / "missing.wav")
    (tmp_path / "folder.wav").mkdir()
    assert "is a directory" in _error(tmp_path / "folder.wav")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_permission_denied(tmp_path):
    path = write(tmp_path / "locked.wav", tone(), RATE)
    path.chmod(0)
    try:
        assert "permission denied" in _error(path)
    finally:
        path.chmod(0o644)


def test_permission_error_becomes_permission_denied(tmp_path, monkeypatch):
    """The same outcome where the tests run as root, who may read any file."""
    path = write(tmp_path / "locked.wav", tone(), RATE)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ser_img.audio.decode, "open", refuse, raising=False)
    assert "permission denied" in _error(path)


@pytest.mark.parametrize("rate, ok", [(4000, False), (8000, True), (192000, True), (384000, True),
                                      (400000, False)])
def test_sample_rates_outside_8_to_384_khz_are_refused(tmp_path, rate, ok):
    path = write(tmp_path / "r.wav", tone(0.5, rate, 300.0), rate, "WAV", "PCM_16")
    if ok:
        assert load_audio(path, RATE).source_rate == rate
    else:
        assert f"sample rate {rate} Hz is outside the supported 8-384 kHz" in _error(path)


def test_pure_silence_is_refused(tmp_path):
    write(tmp_path / "silence.wav", np.zeros(RATE, np.float32), RATE, "WAV", "PCM_16")
    assert "silent" in _error(tmp_path / "silence.wav")


def test_nan_and_infinite_samples_become_silence(tmp_path):
    samples = tone(1.0, RATE)
    samples[1000:2000] = np.nan
    samples[5000], samples[6000] = np.inf, -np.inf
    audio = load_audio(write(tmp_path / "nan.wav", samples, RATE, "WAV", "FLOAT"), RATE)
    assert np.isfinite(audio.samples).all()
    assert np.all(audio.samples[1000:2000] == 0) and audio.samples[5000] == 0
    assert np.array_equal(audio.samples[:1000], samples[:1000])


def test_a_file_of_only_nan_is_refused(tmp_path):
    write(tmp_path / "nan.wav", np.full(RATE, np.nan, np.float32), RATE, "WAV", "FLOAT")
    assert "no valid samples" in _error(tmp_path / "nan.wav")


def test_clipped_audio_renders_normally(tmp_path):
    clipped = np.clip(tone(1.0, RATE, amplitude=3.0), -1.0, 1.0)
    audio = load_audio(write(tmp_path / "clipped.wav", clipped, RATE, "WAV", "PCM_16"), RATE)
    assert np.abs(audio.samples).max() == pytest.approx(1.0, abs=1e-3)
    assert np.ptp(render(audio.samples, RenderSettings())) > 0


def test_float_beyond_full_scale_is_scaled_without_changing_the_image(tmp_path):
    loud = write(tmp_path / "loud.wav", tone(1.0, RATE, amplitude=1e30), RATE, "WAV", "FLOAT")
    quiet = write(tmp_path / "quiet.wav", tone(1.0, RATE, amplitude=0.5), RATE, "WAV", "FLOAT")
    audio = load_audio(loud, RATE)
    assert np.abs(audio.samples).max() == pytest.approx(1.0)
    settings = RenderSettings()
    image = render(audio.samples, settings)
    assert np.abs(image.astype(int) - render(load_audio(quiet, RATE).samples, settings)).max() <= 1


def test_clips_shorter_than_the_window_are_padded(tmp_path):
    audio = load_audio(write(tmp_path / "short.wav", tone(0.02, 44100), 44100, "WAV", "PCM_16"), RATE)
    assert len(audio.samples) == pytest.approx(0.02 * RATE, abs=2)
    image = render(audio.samples, RenderSettings(colormap="gray"))[:, :, 0]
    # Centred in the window: sound in the middle columns, silence at both edges.
    assert image[:, 60:68].max() > 0 and image[:, :8].max() == 0 and image[:, -8:].max() == 0


def test_a_clip_too_short_to_resample_is_refused(tmp_path):
    write(tmp_path / "blip.wav", np.array([0.5], np.float32), 192000, "WAV", "FLOAT")
    assert "too short (1 samples at 192000 Hz)" in _error(tmp_path / "blip.wav")
