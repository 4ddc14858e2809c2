"""Random rates, lengths, channel counts, sample types and byte garbage: the loader and
predict either give a sound result or a clean one-line error, never anything else."""

import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from ser_img.audio.decode import load_audio
from ser_img.errors import AudioError
from ser_img.labels import EMOTIONS

# (format, subtype, extension, highest rate libsndfile writes it at)
CONTAINERS = [(f, s, e, r) for f, s, e, r in [
    ("WAV", "PCM_U8", ".wav", 400000), ("WAV", "PCM_16", ".wav", 400000), ("WAV", "PCM_24", ".wav", 400000),
    ("WAV", "PCM_32", ".wav", 400000), ("WAV", "FLOAT", ".wav", 400000), ("WAV", "DOUBLE", ".wav", 400000),
    ("WAV", "ULAW", ".wav", 400000), ("WAV", "ALAW", ".wav", 400000), ("FLAC", "PCM_16", ".flac", 400000),
    ("FLAC", "PCM_24", ".flac", 400000), ("OGG", "VORBIS", ".ogg", 192000), ("AIFF", "PCM_16", ".aiff", 400000),
] if s in soundfile.available_subtypes(f)]
# No deadline: decoding and the CNN run at the machine's pace; no test here is timed.
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@st.composite
def audio_files(draw) -> tuple[str, bytes]:
    """(extension, file bytes): valid audio of any shape, often then damaged, or pure garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([".wav", ".mp3", ".flac", ".ogg"])), draw(st.binary(max_size=2000))
    format, subtype, extension, top_rate = draw(st.sampled_from(CONTAINERS))
    rate = draw(st.one_of(st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000]),
                          st.integers(4000, top_rate)))
    if format == "FLAC" and rate > 65535:
        rate -= rate % 10  # FLAC stores rates above 65535 Hz in tens of Hz
    frames, channels = draw(st.integers(0, 12000)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    noise = np.clip(0.4 * rng.standard_normal((frames, channels)), -1.0, 1.0)
    # Only float files can hold NaN or values beyond full scale (libsndfile crashes
    # encoding NaN into other subtypes).
    floats = subtype in ("FLOAT", "DOUBLE")
    signal = draw(st.sampled_from(["noise", "noise", "silence", *(["loud", "nan"] if floats else [])]))
    samples = {"noise": noise, "silence": 0 * noise, "loud": 1e6 * noise,
               "nan": np.where(rng.random(noise.shape) < 0.3, np.nan, noise)}[signal].astype(np.float32)
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, samples, rate, format=format, subtype=subtype)
    except soundfile.LibsndfileError:
        reject()  # a combination this libsndfile cannot write; reading is what is tested
    data = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "scribble"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "scribble" and data:
        start = draw(st.integers(0, len(data) - 1))
        garbage = draw(st.binary(min_size=1, max_size=64))
        data[start : start + len(garbage)] = garbage
    return extension, bytes(data)


def _save(folder: str, extension: str, data: bytes) -> Path:
    path = Path(folder) / f"clip{extension}"
    path.write_bytes(data)
    return path


def _assert_clean_error(message: str, path: Path) -> None:
    assert message.startswith(f"{path}: ") and "\n" not in message and "Traceback" not in message


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(audio_files())
def test_loader_gives_sound_audio_or_a_clean_error(file):
    with tempfile.TemporaryDirectory() as folder:
        path = _save(folder, *file)
        try:
            audio = load_audio(path, 16000)
        except AudioError as exc:
            _assert_clean_error(str(exc), path)
            event(f"refused: {re.sub(r'[0-9]+', 'N', str(exc).split(': ', 1)[1].split(' (')[0])}")
            return
    event("decoded")
    assert audio.samples.ndim == 1 and len(audio.samples) > 0 and audio.samples.dtype == np.float32
    assert np.isfinite(audio.samples).all() and np.abs(audio.samples).max() <= 1.0 + 1e-6
    assert 8000 <= audio.source_rate <= 384000 and audio.sample_rate == 16000


@pytest.fixture(scope="module")
def model(stack_model):
    from ser_img.store.load import load_model

    return load_model(stack_model)


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_OK)
@given(file=audio_files())
def test_predict_gives_probabilities_or_lists_the_file_as_failed(model, file):
    from pipelines.predict import predict_files
    from ser_img.recognizer import EmotionRecognizer

    with tempfile.TemporaryDirectory() as folder:
        path = _save(folder, *file)
        report = predict_files([path], recognizer=EmotionRecognizer(model, workers=1))
    assert len(report.predictions) + len(report.failures) == 1
    event("predicted" if report.predictions else "listed as failed")
    for source, error in report.failures:
        _assert_clean_error(error, Path(source))
    for prediction in report.predictions:
        if not prediction.judged:  # too little speech: an outcome, never a guessed emotion
            assert prediction.outcome in ("too short", "no speech") and prediction.label is None
            assert prediction.to_dict()["probabilities"] is None
            continue
        probabilities = prediction.probabilities
        assert np.isfinite(probabilities).all() and probabilities.sum() == pytest.approx(1.0)
        assert prediction.label == EMOTIONS[int(probabilities.argmax())]
