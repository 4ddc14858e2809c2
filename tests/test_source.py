"""Any input becomes one Source: a path, bytes, a file object and an array give the same answer."""

import io

import numpy as np
import pytest
import soundfile

from ser_img.errors import AudioError, UsageError
from ser_img.source import ArraySource, FileSource, to_source
from tests.sounds import tone


def _clip(tmp_path, seconds=1.5, rate=22050):
    samples = tone(seconds, rate, channels=2) * np.linspace(0.2, 1.0, int(seconds * rate))[:, None]
    path = tmp_path / "clip.wav"
    soundfile.write(path, samples, rate, subtype="FLOAT")
    return path, samples.astype(np.float32), rate


def test_a_file_bytes_and_a_file_object_decode_alike(tmp_path):
    path, _, _ = _clip(tmp_path)
    data = path.read_bytes()
    loaded = [to_source(x).load(16000).samples for x in (path, str(path), data, io.BytesIO(data))]
    for other in loaded[1:]:
        np.testing.assert_array_equal(other, loaded[0])
    assert isinstance(to_source(data), FileSource) and to_source(path).name == str(path)


def test_an_array_reads_like_its_file(tmp_path):
    path, samples, rate = _clip(tmp_path)
    array, file = to_source(samples, sr=rate), to_source(path)
    assert isinstance(array, ArraySource) and array.name is None and array.channels == file.channels == 2
    np.testing.assert_allclose(array.load(16000).samples, file.load(16000).samples, atol=1e-5)
    assert array.duration(16000) == pytest.approx(file.duration(16000), abs=1e-3)
    blocks = list(array.blocks(16000, channel=1))
    np.testing.assert_allclose(np.concatenate(blocks), list(file.blocks(16000, channel=1))[0], atol=1e-5)


def test_what_cannot_be_a_source_says_why():
    with pytest.raises(UsageError, match="sample rate"):
        to_source(np.zeros(100, np.float32))
    with pytest.raises(UsageError, match="sr is for arrays"):
        to_source("talk.wav", sr=16000)
    with pytest.raises(AudioError, match="non-empty"):
        to_source(np.zeros((0,), np.float32), sr=16000)


def test_the_recognizer_answers_every_kind_alike(recognizer, tmp_path):
    path, samples, rate = _clip(tmp_path, seconds=1.8)
    by_path = recognizer.predict(path)
    by_bytes = recognizer.predict(path.read_bytes())
    assert by_bytes.outcome == by_path.outcome
    if by_path.judged:
        np.testing.assert_allclose(by_bytes.probabilities, by_path.probabilities, atol=1e-6)
