"""EmotionRecognizer: short clips as in training, long recordings as a timeline, bounded reads."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from ser_img.audio.decode import load_audio
from ser_img.errors import AudioError, ModelError, UsageError
from ser_img.labels import EMOTIONS
from ser_img.recognizer import EmotionRecognizer
from ser_img.audio.stream import read_blocks
from ser_img.speech.windows import sliding_windows, window_spans
from tests.conftest import write_long_recording


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 400), block=st.integers(1, 150), window=st.integers(5, 60), hop=st.integers(1, 80))
def test_windows_do_not_depend_on_how_the_stream_is_cut(n, block, window, hop):
    audio = np.arange(n, dtype=np.float32)
    windows = list(sliding_windows([audio[i : i + block] for i in range(0, n, block)], window, hop, min_tail=hop))
    whole = list(sliding_windows([audio], window, hop, min_tail=hop))
    assert [(w.start, w.end) for w in windows] == [(w.start, w.end) for w in whole]
    for w in windows:
        assert np.array_equal(w.samples, audio[w.start : w.end]) and w.end - w.start <= window
    full = [w.start for w in windows if w.end - w.start == window]
    assert full == list(range(0, len(full) * hop, hop))
    if hop <= window:  # overlapping or touching windows leave less than a hop unscored
        assert windows[-1].end >= n - hop


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), block=st.integers(1, 150), window=st.integers(5, 60), hop=st.integers(1, 80),
       offset=st.integers(0, 50))
def test_one_windowing_rule_for_streams_and_turns(n, block, window, hop, offset):
    audio = np.zeros(n, dtype=np.float32)
    streamed = [(w.start, w.end) for w in sliding_windows([audio[i : i + block] for i in range(0, n, block)],
                                                          window, hop, min_tail=hop)]
    spans = window_spans(offset, offset + n, window, hop, min_tail=hop)
    assert [(s - offset, e - offset) for s, e in spans] == streamed


def test_blockwise_decoding_matches_whole_file_decoding(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.1 * rng.standard_normal((44100 * 5, 2))).astype(np.float32)
    path = tmp_path / "stereo.flac"
    soundfile.write(str(path), stereo, 44100)
    blocks = list(read_blocks(path, 16000, block_s=0.7))
    assert max(len(b) for b in blocks) <= int(0.7 * 16000) + 1000  # a block, plus the resampler's delay at the end
    streamed, whole = np.concatenate(blocks), load_audio(path, 16000).samples
    assert abs(len(streamed) - len(whole)) <= 2
    n = min(len(streamed), len(whole))
    assert np.abs(streamed[1000 : n - 1000] - whole[1000 : n - 1000]).max() < 1e-3


def test_a_short_clip_is_scored_whole_as_in_training(recognizer, corpus):
    clip = corpus / "Actor_01" / "03-01-05-01-01-01-01.wav"
    result = recognizer.predict(clip)
    expected = recognizer.model.predict_signals([load_audio(clip, recognizer.sample_rate).samples])[0]
    assert result.probabilities.tolist() == pytest.approx(expected.tolist(), abs=1e-9)
    assert result.label == EMOTIONS[int(expected.argmax())]
    assert len(result.timeline) == 1 and result.timeline[0].start == 0.0
    assert result.shares[EMOTIONS.index(result.label)] == 1.0 and result.model["name"] == "stack"
    samples, rate = soundfile.read(str(clip), dtype="float32")
    from_array = recognizer.predict(samples, sr=rate)
    assert from_array.probabilities == pytest.approx(result.probabilities, abs=1e-6)
    record, from_file = from_array.to_dict(), result.to_dict()
    assert list(record) == list(from_file) and record["source"] is None and from_file["source"] == str(clip)
    with pytest.raises(UsageError, match="sample rate"):
        recognizer.predict(samples)  # no silent 16 kHz


def test_a_long_recording_becomes_a_timeline_without_its_silence(recognizer, tmp_path):
    path, voiced = write_long_recording(tmp_path / "long.wav", sample_rate=22050)
    result = recognizer.predict(path)
    duration = soundfile.info(str(path)).duration
    assert result.duration_s == pytest.approx(duration, abs=0.01)
    window, hop = recognizer.window_s, recognizer.hop_s
    starts = [s.start for s in result.timeline]
    assert starts == sorted(starts) and all(s.end - s.start <= window + 1e-6 for s in result.timeline)
    for s in result.timeline:  # every segment overlaps speech; the long silence is skipped
        assert any(s.start < end and start < s.end for start, end in voiced)
        assert s.label == EMOTIONS[int(s.probabilities.argmax())]
        assert s.probabilities.sum() == pytest.approx(1.0)
    assert result.silent_s >= 4.0 - window
    assert result.shares.sum() == pytest.approx(1.0)
    assert result.label == EMOTIONS[int(result.probabilities.argmax())]
    record = json.loads(json.dumps(result.to_dict()))
    assert set(record) >= {"label", "probabilities", "duration_s", "timeline", "shares", "model"}
    assert list(record["probabilities"]) == list(EMOTIONS)
    assert all(s.start / hop == pytest.approx(round(s.start / hop), abs=1e-3) for s in result.timeline)
    wider = EmotionRecognizer(recognizer.model, window_s=window, hop_s=window).predict(path)
    assert len(wider.timeline) < len(result.timeline)
    assert all(s.start / window == pytest.approx(round(s.start / window), abs=1e-3) for s in wider.timeline)


@pytest.mark.parametrize("seconds", [3, 20])  # a clip scored whole, and a timeline
@pytest.mark.parametrize("kind", ["digital silence", "steady tone"])
def test_nothing_to_judge_is_the_outcome_no_speech_on_every_path(recognizer, tmp_path, seconds, kind):
    t = np.arange(16000 * seconds) / 16000
    samples = np.zeros_like(t) if kind == "digital silence" else 0.3 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "quiet.wav"
    soundfile.write(str(path), samples.astype(np.float32), 16000)
    for result in (recognizer.predict(path), recognizer.predict_files([path])[0].result):
        assert result.outcome == "no speech" and result.label is None and result.speech_s == 0
        assert result.duration_s == pytest.approx(seconds, abs=0.01)


def test_default_model_missing_is_a_model_error(tmp_path, monkeypatch):
    import ser_img.store.load

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ser_img.store.load, "PACKAGED_MODEL", tmp_path / "not-installed")
    with pytest.raises(ModelError, match="no model found"):
        EmotionRecognizer.load()


def test_the_package_exports_the_recognizer_lazily():
    code = ("import sys, ser_img; assert 'tensorflow' not in sys.modules; "
            "from ser_img import EmotionRecognizer; assert 'tensorflow' not in sys.modules; "
            "print(EmotionRecognizer.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "EmotionRecognizer"


def test_calls_that_wait_for_the_model_share_one_batch_and_get_their_own_rows():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from ser_img.scoring.batcher import Batcher as _Batcher

    busy, release, calls = threading.Event(), threading.Event(), []

    def score(signals):
        calls.append(len(signals))
        if len(calls) == 1:  # hold the model while the others queue
            busy.set()
            release.wait(30)
        return np.stack([np.full(8, s[0]) for s in signals])

    batcher = _Batcher(score)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(batcher, [np.array([0.0])])
        busy.wait(30)
        rest = [pool.submit(batcher, [np.array([i]), np.array([i + 0.5])]) for i in (1.0, 2.0, 3.0, 4.0)]
        while len(batcher._queue) < 4:
            time.sleep(0.01)
        release.set()
    assert calls == [1, 8]
    assert first.result()[:, 0].tolist() == [0.0]
    for i, future in zip((1.0, 2.0, 3.0, 4.0), rest):
        assert future.result()[:, 0].tolist() == [i, i + 0.5]


def test_a_long_file_whose_header_hides_its_length_still_becomes_a_timeline(recognizer, tmp_path, monkeypatch):
    import ser_img.source

    path, _ = write_long_recording(tmp_path / "long.wav")
    expected = recognizer.predict(path)
    monkeypatch.setattr(ser_img.source, "audio_duration", lambda path: None)  # as for some streams
    ((_, answer),) = recognizer.predict_files([path])
    assert answer.is_timeline and len(answer.timeline) == len(expected.timeline)
    assert answer.probabilities == pytest.approx(expected.probabilities, abs=1e-6)
