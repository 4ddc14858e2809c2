"""The HTTP API over real HTTP on loopback: answers, limits, errors, parallel requests."""

import json
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from cli import main
from pipelines.serve import BackgroundServer, ServeSettings, create_app
from ser_img.labels import EMOTIONS
from ser_img.options import RecognizerOptions
from tests.conftest import write_long_recording

CLIP = Path("Actor_02") / "03-01-05-01-01-01-02.wav"


def _leftover_uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ser-img-upload-*")}


def test_health_model_card_and_openapi(server_url, stack_model):
    assert httpx.get(f"{server_url}/health").json()["status"] == "ok"
    card = httpx.get(f"{server_url}/model").json()
    assert card["name"] == "stack" and card["model"]["labels"] == list(EMOTIONS)
    assert card["metrics"] == json.loads((stack_model / "metrics.json").read_text())
    assert card["model_card"] == (stack_model / "MODEL_CARD.md").read_text()
    spec = httpx.get(f"{server_url}/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/predict"]["post"]["requestBody"]["content"]


def test_an_upload_gets_the_recognizers_own_answer(server_url, recognizer, corpus):
    before = _leftover_uploads()
    clip = corpus / CLIP
    response = httpx.post(f"{server_url}/predict?image=true", files={"file": (clip.name, clip.read_bytes())})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = recognizer.predict(clip, image=True).to_dict()
    assert list(body) == list(expected)  # one record shape, key for key, as `predict --json` and Python
    assert body["probabilities"] == pytest.approx(expected["probabilities"])
    assert body["label"] == expected["label"] and body["source"] == clip.name
    assert body["model"] == {"name": "stack", "version": expected["model"]["version"]}
    assert len(body["timeline"]) == 1
    assert body["spectrogram_png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
    assert _leftover_uploads() <= before  # the upload's private folder is gone


def test_a_long_recording_as_the_raw_body_gets_a_timeline(server_url, tmp_path):
    path, _ = write_long_recording(tmp_path / "long.flac")
    response = httpx.post(f"{server_url}/predict", content=path.read_bytes(),
                          headers={"content-type": "audio/flac"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["timeline"]) > 3 and sum(body["shares"].values()) == pytest.approx(1.0)
    assert "spectrogram_png" not in body


@pytest.mark.parametrize(("content", "status", "reason"), [
    (b"", 400, "notes.wav: empty upload"),
    (b"just some text, not audio at all" * 10, 415, "notes.wav: cannot decode audio"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00" + b"\xff" * 40, 415, "notes.wav: cannot decode audio"),
])
def test_bad_uploads_get_a_clear_json_error(server_url, content, status, reason):
    before = _leftover_uploads()
    response = httpx.post(f"{server_url}/predict", files={"file": ("notes.wav", content)})
    assert response.status_code == status
    assert response.json()["error"].startswith(reason)
    assert "Traceback" not in response.text and tempfile.gettempdir() not in response.text
    assert _leftover_uploads() <= before


def test_a_request_without_a_file_field_is_refused(server_url):
    response = httpx.post(f"{server_url}/predict", files={"other": ("x.wav", b"abc")})
    assert response.status_code == 400 and "multipart field 'file'" in response.json()["error"]
    assert httpx.get(f"{server_url}/nowhere").json() == {"error": "Not Found"}


def test_oversized_uploads_are_refused_while_streaming(recognizer, corpus):
    before = _leftover_uploads()
    with BackgroundServer(create_app(recognizer, ServeSettings(max_upload_bytes=10_000))) as url:
        clip = (corpus / CLIP).read_bytes()
        assert len(clip) > 10_000
        response = httpx.post(f"{url}/predict", files={"file": ("big.wav", clip)})
        assert response.status_code == 413 and "upload limit" in response.json()["error"]

        def chunks():  # no Content-Length: the limit is enforced as the bytes arrive
            yield clip

        streamed = httpx.post(f"{url}/predict", content=chunks())
        assert streamed.status_code == 413
    assert _leftover_uploads() <= before


def test_a_request_over_the_time_limit_gets_504(corpus):
    release = threading.Event()

    class Stuck:  # a recognizer that never finishes in time
        model_dir, model_info, window_s, hop_s = None, {"name": "stuck", "version": "0"}, 3.0, 1.5
        options = RecognizerOptions()

        def with_options(self, **changes):
            return self

        def predict(self, path, **options):
            release.wait(30)
            raise AssertionError("unreachable: the request has already timed out")

    try:
        with BackgroundServer(create_app(Stuck(), ServeSettings(timeout_s=0.2))) as url:
            response = httpx.post(f"{url}/predict", files={"file": ("a.wav", (corpus / CLIP).read_bytes())})
            assert response.status_code == 504 and "not scored within 0.2 s" in response.json()["error"]
    finally:
        release.set()


def test_an_upload_that_never_finishes_gets_408(recognizer):
    import socket

    before = _leftover_uploads()
    with BackgroundServer(create_app(recognizer, ServeSettings(timeout_s=0.3))) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\n"
                               b"Content-Length: 100000\r\n\r\nRIFF")  # ... and nothing more
            answer = connection.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 408") and b"upload not received within 0.3 s" in answer
    assert _leftover_uploads() <= before


def test_parallel_requests_all_succeed_with_the_same_answer(server_url, corpus):
    clip = (corpus / CLIP).read_bytes()

    def ask(_):
        return httpx.post(f"{server_url}/predict", files={"file": ("c.wav", clip)}, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(ask, range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    first = responses[0].json()["probabilities"]
    for response in responses[1:]:  # batched with other requests or not, the same answer
        assert response.json()["probabilities"] == pytest.approx(first, abs=1e-6)


def test_serve_binds_to_localhost_unless_told(monkeypatch):
    from click.testing import CliRunner

    import pipelines.serve

    calls = []
    monkeypatch.setattr(pipelines.serve, "serve", lambda *args: calls.append(args))
    assert CliRunner().invoke(main, ["serve", "--model", "m"]).exit_code == 0
    assert CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "9000"]).exit_code == 0
    (model, host, port, settings), (_, other_host, other_port, _) = calls
    assert (str(model), host, port) == ("m", "127.0.0.1", 8000) and (other_host, other_port) == ("0.0.0.0", 9000)
    assert settings.max_upload_bytes == 100 * 1024 * 1024
