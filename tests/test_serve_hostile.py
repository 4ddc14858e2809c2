"""Hostile clients on loopback (issue 17): nothing a client sends ties up or crashes the server.

Each probe is one or a few requests, bounded in time.
"""

import logging
import struct
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from pipelines.serve import BackgroundServer, ServeSettings, allowed_hosts_for, create_app
from ser_img.errors import AudioError
from ser_img.recognizer import EmotionRecognizer
from tests.sounds import encode, tone

CLIP = Path("Actor_02") / "03-01-05-01-01-01-02.wav"


def _wav_header(rate: int, channels: int, frames: int) -> bytes:
    """A PCM-16 WAV header that promises `frames` frames at `rate` Hz (the data may be short)."""
    size = frames * channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16) + b"data" + struct.pack("<I", size))


def _leftover(folder: Path) -> list[Path]:
    return list(folder.glob("ser-img-upload-*"))


# -- 1. the rate is checked on every path, and the length is capped --------------------------

def test_a_one_hertz_header_is_refused_on_the_long_file_path_too(recognizer, tmp_path):
    # 16,000 frames at 1 Hz "is" 4.4 hours: the block reader used to take it.
    path = tmp_path / "one_hz.wav"
    path.write_bytes(_wav_header(1, 1, 16000) + b"\x01\x00" * 16000)
    started = time.monotonic()
    with pytest.raises(AudioError, match="sample rate 1 Hz is outside"):
        recognizer.predict(path)
    assert time.monotonic() - started < 5


def test_the_server_refuses_audio_over_its_duration_cap_before_decoding(recognizer, tmp_path):
    long_clip = encode(tone(12.0, 8000), 8000)
    with BackgroundServer(create_app(recognizer, ServeSettings(max_duration_s=5))) as url:
        response = httpx.post(f"{url}/predict", files={"file": ("long.wav", long_clip)}, timeout=30)
        bad_rate = httpx.post(f"{url}/predict", files={"file": ("hz.wav", _wav_header(1, 1, 16000) + b"\0" * 32000)})
    assert response.status_code == 422 and response.json()["error"] == "long.wav: 12 s of audio is over the 5-s limit"
    assert bad_rate.status_code == 422 and "sample rate 1 Hz" in bad_rate.json()["error"]
    assert recognizer.max_duration_s is None  # the server's cap is its own, not the shared recognizer's


def test_many_channels_at_a_high_rate_are_bounded_before_decoding(recognizer, tmp_path):
    # 0.5 s is under a 1-s cap, but 8 channels at 48 kHz is twice what 1 s of 48-kHz stereo holds.
    path = tmp_path / "wide.wav"
    path.write_bytes(encode(tone(0.5, 48000, channels=8), 48000))
    capped = EmotionRecognizer(recognizer.model, max_duration_s=1.0)
    with pytest.raises(AudioError, match="8 channels at 48000 Hz for 0.5 s is more than the limit"):
        capped.predict(path)


def test_decoding_holds_a_bounded_block_whatever_the_channel_count(monkeypatch, tmp_path):
    import soundfile

    from ser_img.audio import decode as audio

    seen = []
    real_read = soundfile.SoundFile.read

    def read(self, frames=-1, *args, **kwargs):
        block = real_read(self, frames, *args, **kwargs)
        seen.append(block.size)
        return block

    monkeypatch.setattr(audio, "MAX_BLOCK_VALUES", 4096)
    monkeypatch.setattr(soundfile.SoundFile, "read", read)
    samples = tone(1.0, 16000, channels=6)
    path = tmp_path / "six.wav"
    path.write_bytes(encode(samples, 16000, subtype="FLOAT"))
    loaded = audio.load_audio(path, 16000)
    assert max(seen) <= 4096  # downmixed as it streams, never the whole file at once
    np.testing.assert_allclose(loaded.samples, samples.mean(axis=1), atol=1e-6)


# -- 1. a timed-out job stops; 6. a stopping server ends its jobs and removes their uploads --------

class _Slow:
    """A recognizer whose model takes `delay` seconds a pass, counting its passes; `finished`
    is set when its job ends, however it ends."""

    def __init__(self, recognizer, delay):
        self.calls = 0
        self.finished = threading.Event()
        self.recognizer = EmotionRecognizer(recognizer.model, recognizer.model_dir)
        score, predict = self.recognizer.score, self.recognizer.predict

        def slow(clips):
            self.calls += 1
            time.sleep(delay)
            return score(clips)

        def predict_then_say_so(*args, **kwargs):
            try:
                return predict(*args, **kwargs)
            finally:
                self.finished.set()

        self.recognizer.score, self.recognizer.predict = slow, predict_then_say_so


def _wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def _long_upload() -> bytes:
    """200 s of synthetic speech at 8 kHz: 200 windows of the tiny model, 7 passes."""
    from ser_img.audio.decode import to_rate
    from ser_img.corpus.synth import synth_clip

    clip = synth_clip("angry", 2, 1, 1, np.random.default_rng(3), 16000)
    speech = np.concatenate([clip, np.zeros(len(clip) // 4, np.float32)])
    return encode(to_rate(np.resize(speech, 200 * 16000), 16000, 8000), 8000)


def test_a_timed_out_job_stops_instead_of_running_to_its_end(recognizer, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    slow = _Slow(recognizer, delay=0.5)
    with BackgroundServer(create_app(slow.recognizer, ServeSettings(timeout_s=0.6))) as url:
        response = httpx.post(f"{url}/predict", files={"file": ("long.wav", _long_upload())}, timeout=30)
        assert response.status_code == 504
        assert slow.finished.wait(60)
        assert slow.calls < 7  # stopped, not the seven passes of a job run to its end
        _wait_until(lambda: _leftover(tmp_path) == [])


def test_a_server_stopped_during_a_job_leaves_no_upload_behind(recognizer, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    slow = _Slow(recognizer, delay=0.5)
    server = BackgroundServer(create_app(slow.recognizer, ServeSettings(timeout_s=60)), graceful_s=0.5)
    with server as url:
        thread = threading.Thread(target=lambda: httpx.post(
            f"{url}/predict", files={"file": ("long.wav", _long_upload())}, timeout=30), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while slow.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _leftover(tmp_path), "the upload should be in its folder while it is scored"
    thread.join(10)
    assert slow.finished.wait(60)
    assert slow.calls < 7  # stopped, not the seven passes of a job run to its end
    _wait_until(lambda: _leftover(tmp_path) == [])


# -- 3. malformed multipart is a 4xx and no traceback; 4. a body cut short is refused ------------

def _multipart(name: bytes, payload: bytes, boundary: bytes = b"xyz", end: bool = True) -> bytes:
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + name
            + b'"\r\nContent-Type: audio/wav\r\n\r\n' + payload)
    return body + (b"\r\n--" + boundary + b"--\r\n" if end else b"")


@pytest.mark.parametrize(("body", "boundary"), [
    (_multipart(b"a.wav", b"RIFF"), b"abc"),  # the boundary in the header is not the body's
    (_multipart(b"a\r\n.wav", b"RIFF"), b"xyz"),  # CR/LF in the file name
    (_multipart(b"a.w\x00av", b"RIFF"), b"xyz"),  # a NUL in the extension
    (_multipart(b"n" * 5000 + b".wav", b"RIFF"), b"xyz"),  # a 5,000-character name
], ids=["bad-boundary", "crlf-name", "nul-extension", "long-name"])
def test_malformed_multipart_is_a_client_error_without_tracebacks(server_url, body, boundary, caplog):
    with caplog.at_level(logging.WARNING):
        response = httpx.post(f"{server_url}/predict", content=body,
                              headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_a_long_file_name_is_shortened_not_fatal(server_url, corpus):
    clip = (corpus / CLIP).read_bytes()
    response = httpx.post(f"{server_url}/predict", files={"file": ("é" * 300 + ".wav", clip)})
    assert response.status_code == 200 and len(response.json()["source"]) <= 255
    assert response.json()["source"].endswith(".wav")


def test_a_multipart_body_cut_short_is_refused(server_url, corpus):
    clip = (corpus / CLIP).read_bytes()
    body = _multipart(b"cut.wav", clip[: len(clip) // 2], end=False)
    response = httpx.post(f"{server_url}/predict", content=body,
                          headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert response.status_code == 400 and "cut short" in response.json()["error"]


# -- 5. other web pages and other host names are refused; the usual headers are sent ----------

def test_cross_origin_requests_are_refused_and_same_origin_ones_served(server_url, corpus):
    clip = {"file": ("c.wav", (corpus / CLIP).read_bytes())}
    evil = httpx.post(f"{server_url}/predict", files=clip, headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and "--allow-origin https://evil.example" in evil.json()["error"]
    assert "access-control-allow-origin" not in evil.headers
    own = httpx.post(f"{server_url}/predict", files=clip, headers={"origin": server_url})
    assert own.status_code == 200


def test_a_named_origin_is_allowed_with_cors_headers(recognizer, corpus):
    settings = ServeSettings(allowed_origins=("https://app.example",))
    with BackgroundServer(create_app(recognizer, settings)) as url:
        preflight = httpx.options(f"{url}/predict", headers={
            "origin": "https://app.example", "access-control-request-method": "POST"})
        answer = httpx.post(f"{url}/predict", files={"file": ("c.wav", (corpus / CLIP).read_bytes())},
                            headers={"origin": "https://app.example"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["access-control-allow-methods"]
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example"


def test_a_foreign_host_name_is_refused_against_dns_rebinding(server_url):
    port = server_url.rsplit(":", 1)[1]
    response = httpx.get(f"{server_url}/health", headers={"host": f"rebind.example:{port}"})
    assert response.status_code == 403 and "--allow-host rebind.example" in response.json()["error"]
    assert httpx.get(f"{server_url}/health", headers={"host": f"localhost:{port}"}).status_code == 200


def test_the_hosts_a_server_answers_to_follow_its_address():
    assert allowed_hosts_for("127.0.0.1") == ("127.0.0.1", "localhost", "::1")
    assert allowed_hosts_for("10.0.0.5", ("ser.lan",)) == ("10.0.0.5", "ser.lan")
    assert allowed_hosts_for("0.0.0.0") is None  # every address: it cannot know its names


def test_security_headers_are_sent(server_url):
    page, api = httpx.get(f"{server_url}/"), httpx.get(f"{server_url}/health")
    for response in (page, api):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_header_with_an_impossible_rate_is_refused_in_plain_words(server_url):
    data = b"\0\0" * 1600
    header = struct.pack("<IHHIIHH", 16, 1, 1, 4_000_000_000, 2**32 - 1, 2, 16)
    wav = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + header + b"data" + struct.pack("<I", len(data))
    answer = httpx.post(f"{server_url}/predict", files={"file": ("x.wav", wav + data)}, timeout=30)
    assert answer.status_code == 415
    assert answer.json()["error"] == ("x.wav: cannot decode audio (its header is damaged: it states an impossible "
                                      "sample rate, channel count or format)")


def test_head_requests_are_answered_like_gets(server_url):
    for path in ("/", "/health"):
        head, get = httpx.head(server_url + path), httpx.get(server_url + path)
        assert head.status_code == get.status_code == 200 and head.content == b""
