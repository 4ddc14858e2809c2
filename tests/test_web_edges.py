"""The web page's rough edges (issue 25): a slow earlier answer never replaces a newer one, the
CSV has the speaker rows `ser-img predict --csv --speakers` writes, the accuracy shown is per
corpus, and a one-channel file with "stereo channels" gets the server's reason."""

import csv
import json
import threading
from pathlib import Path

import pytest

from tests.test_web import CHROMIUM, TWO_SPEAKERS, page  # noqa: F401 (the browser fixture)

EMPTY_WAV = {"mimeType": "audio/wav", "buffer": b"RIFF"}


def _record(label: str, source: str) -> dict:
    record = json.loads(TWO_SPEAKERS.read_text())
    probabilities = {name: (0.65 if name == label else 0.05) for name in record["probabilities"]}
    return {**record, "source": source, "label": label, "probabilities": probabilities, "speakers": None,
            "timeline": [{"start": 0.0, "end": 3.0, "label": label, "probabilities": probabilities}],
            "duration_s": 3.0}


def test_a_slow_earlier_answer_never_replaces_a_newer_one(page, server_url):
    """The first upload's answer is held back until the second's is shown, then let through."""
    held, asked = [], []

    def answer(route):
        asked.append(route.request.url)
        if len(asked) == 1:
            held.append(route)  # answered later, after the newer one
            return
        route.fulfill(status=200, content_type="application/json", body=json.dumps(_record("sad", "second.wav")))

    page.route("**/predict?*", answer)
    try:
        page.goto(server_url + "/")
        page.set_input_files("#file", files=[{"name": "first.wav", **EMPTY_WAV}])
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Scoring first.wav')")
        page.set_input_files("#file", files=[{"name": "second.wav", **EMPTY_WAV}])
        page.wait_for_function("document.getElementById('status').textContent === 'second.wav: done.'")
        assert page.inner_text("#label").strip().lower() == "sad"
        try:  # the page has aborted the first request; if its answer comes anyway, it is dropped
            held[0].fulfill(status=200, content_type="application/json",
                            body=json.dumps(_record("angry", "first.wav")))
        except Exception:
            pass
        page.wait_for_timeout(500)
        assert page.inner_text("#label").strip().lower() == "sad"
        assert page.inner_text("#status") == "second.wav: done."
        assert page.get_attribute("#download-json", "download") == "second.json"
        assert len(asked) == 2
    finally:
        page.unroute("**/predict?*")


def test_a_slow_earlier_failure_never_replaces_a_newer_answer(page, server_url):
    held, asked = [], []

    def answer(route):
        asked.append(route.request.url)
        if len(asked) == 1:
            held.append(route)
            return
        route.fulfill(status=200, content_type="application/json", body=json.dumps(_record("happy", "b.wav")))

    page.route("**/predict?*", answer)
    try:
        page.goto(server_url + "/")
        page.set_input_files("#file", files=[{"name": "a.wav", **EMPTY_WAV}])
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Scoring a.wav')")
        page.select_option("#speakers", "auto")  # nothing scored yet: choosing speakers sends nothing
        page.set_input_files("#file", files=[{"name": "b.wav", **EMPTY_WAV}])
        page.wait_for_function("document.getElementById('status').textContent === 'b.wav: done.'")
        try:
            held[0].fulfill(status=504, content_type="application/json", body=json.dumps({"error": "a.wav: slow"}))
        except Exception:
            pass
        page.wait_for_timeout(500)
        assert page.inner_text("#status") == "b.wav: done." and page.is_visible("#result")
        assert page.inner_text("#label").strip().lower() == "happy"
    finally:
        page.unroute("**/predict?*")


def test_the_csv_has_a_row_per_speaker_as_the_cli_writes_it(page, server_url):
    """The page's CSV is `ser-img predict --csv --speakers`'s: file row, speaker rows, segments."""
    import numpy as np

    from pipelines.writers import timeline_csv as _timeline_csv
    from ser_img.labels import EMOTIONS
    from ser_img.records import Recognition, Segment, SpeakerSummary

    record = json.loads(TWO_SPEAKERS.read_text())
    page.route("**/predict?*", lambda route: route.fulfill(status=200, content_type="application/json",
                                                         body=json.dumps(record)))
    try:
        page.goto(server_url + "/")
        page.select_option("#speakers", "2")
        page.set_input_files("#file", files=[{"name": record["source"], **EMPTY_WAV}])
        page.wait_for_selector("#lanes:not([hidden])")
        with page.expect_download() as download:
            page.click("#download-csv")
        text = Path(download.value.path()).read_text()
    finally:
        page.unroute("**/predict?*")
    vector = lambda named: np.array([named[name] for name in EMOTIONS])  # noqa: E731
    answer = Recognition(
        source=record["source"], probabilities=vector(record["probabilities"]), duration_s=record["duration_s"],
        timeline=[Segment(s["start"], s["end"], vector(s["probabilities"]), s["speaker"]) for s in record["timeline"]],
        shares=vector(record["shares"]), model=record["model"], outcome=record["outcome"],
        speech_s=record["speech_s"], warnings=record["warnings"],
        speakers=[SpeakerSummary(s["speaker"], vector(s["probabilities"]), s["speech_s"], s["share"],
                                 vector(s["shares"]), s["turns"]) for s in record["speakers"]])
    assert text == _timeline_csv([(record["source"], answer)], with_speakers=True)
    rows = list(csv.DictReader(text.splitlines()))
    speaker_rows = [r for r in rows if r["row"] == "speaker"]
    assert [(r["speaker"], r["label"], r["speech_s"], r["start"]) for r in speaker_rows] == [
        ("S1", "angry", "12.000", ""), ("S2", "sad", "9.000", "")]


def test_the_note_shows_the_accuracy_per_corpus_home_corpus_first(page, server_url):
    """With the shipped model's card: RAVDESS's figure leads; the pooled one is not the headline."""
    from ser_img.store.load import PACKAGED_MODEL
    from pipelines.serve.app import model_card

    card = model_card(PACKAGED_MODEL)
    body = {**card, "name": card["model"]["name"], "version": "test", "accuracy": card["model"]["cv"]["accuracy"],
            "speakers": len(card["model"]["speakers"]), "licence": "CC BY-NC-SA 4.0"}
    home = card["metrics"]["corpora"][card["model"]["home_corpus"]]["stack"]["accuracy"]
    page.route("**/model", lambda route: route.fulfill(status=200, content_type="application/json",
                                                       body=json.dumps(body)))
    try:
        page.goto(server_url + "/")
        page.wait_for_function("document.getElementById('note').textContent.includes('Licence')")
    finally:
        page.unroute("**/model")
    note = page.text_content("#note")
    assert page.inner_text("#note strong") == f"{100 * home:.1f} % on RAVDESS"
    assert note.startswith("Measured accuracy on voices it had not heard")
    assert "RAVDESS (8 emotions, chance 12.5 %, 18 speakers)." in note
    assert f"{100 * body['accuracy']:.1f} %" not in note  # the pooled figure is only the tooltip
    ids = page.get_attribute("#note", "data-corpora").split()
    assert ids[:3] == ["ravdess", "ravdess-mix1", "ravdess-mix2"] and set(ids) == set(card["metrics"]["corpora"])
    assert page.inner_text("#note summary").endswith(f"on {len(ids) - 1} more corpora")
    page.click("#note summary")  # the other corpora, a row each
    rows = page.locator("#corpora tr")
    cells = [rows.nth(i).locator("th, td").all_inner_texts() for i in range(rows.count())]
    assert len(cells) == len(ids) - 1 and cells[0][0] == "RAVDESS, copy 1 (simulated conditions)"
    ased = card["metrics"]["corpora"]["ased"]["stack"]["accuracy"]
    assert ["ASED, Amharic", f"{100 * ased:.1f} %", "5 emotions, chance 20.0 %, 65 speakers"] in cells
    assert "Licence: CC BY-NC-SA 4.0." in note


def test_a_model_without_per_corpus_figures_shows_its_one_figure(page, server_url):
    page.goto(server_url + "/")  # the tests' tiny model: one synthetic corpus
    page.wait_for_function("document.getElementById('note').textContent.includes('Licence')")
    assert page.inner_text("#note").startswith("Measured accuracy: ")


def test_one_channel_with_stereo_channels_shows_the_server_s_reason(page, server_url, tmp_path):
    """The real server says why (422): the recording has one channel; the page says so."""
    from tests.sounds import tone, write

    write(tmp_path / "mono.wav", tone(3.0), 16000)
    page.goto(server_url + "/")
    page.select_option("#speakers", "channels")
    page.set_input_files("#file", str(tmp_path / "mono.wav"))
    page.wait_for_selector("#status.error")
    message = page.inner_text("#status")
    assert message.startswith("mono.wav: ") and "two-channel" in message and "1 channel" in message
    assert "“stereo channels”" in message and "--speakers" not in message
    assert "too short" not in message and "No sound" not in message
    assert "find speakers (auto)" in message
