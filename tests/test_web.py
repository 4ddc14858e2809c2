"""The web page in a real headless Chromium: load it, upload a clip, see the answer."""

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from ser_img.labels import EMOTIONS

CHROMIUM = os.environ.get("SER_IMG_CHROMIUM") or next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def page():
    if CHROMIUM is None:
        pytest.skip("no chromium executable on PATH (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; the fake
        # media flags give the page a microphone (a test tone) without asking.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        # Playwright's wait_for_function evaluates its predicate as a string, which the server's
        # Content-Security-Policy (no 'unsafe-eval', rightly) would block; the page itself evals nothing.
        yield browser.new_page(bypass_csp=True)
        browser.close()


def test_upload_a_clip_and_see_the_prediction(page, server_url, corpus):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server_url + "/")
    assert "ser-img" in page.title()
    page.wait_for_function("document.getElementById('model').textContent.includes('stack')")
    page.wait_for_function("document.getElementById('note').textContent.includes('Licence')")
    assert "Measured accuracy:" in page.inner_text("#note")
    clip = str(corpus / "Actor_01" / "03-01-05-01-01-01-01.wav")
    page.set_input_files("#file", clip)
    page.wait_for_selector("#result:not([hidden])")
    assert page.inner_text("#label").strip().lower() in EMOTIONS
    assert page.locator("#bars .bar").count() == len(EMOTIONS)
    assert page.get_attribute("#spectrogram", "src").startswith("data:image/png;base64,")
    assert page.locator("#spectrogram").evaluate("img => img.complete && img.naturalWidth") > 0
    assert page.is_hidden("#timeline-section")  # a short clip has no timeline
    assert page.get_attribute("#explanation", "src").startswith("data:image/png;base64,")
    assert "whole clip" in page.inner_text("#window")
    posts = [url for url in requested if "/predict" in url]
    page.evaluate("document.getElementById('status').textContent = ''")
    page.set_input_files("#file", clip)  # the same file again is scored again
    page.wait_for_function("document.getElementById('status').textContent.endsWith('done.')")
    assert len([url for url in requested if "/predict" in url]) == len(posts) + 1
    # nothing from elsewhere, so it works offline (blob: is the chosen file, played back in the page)
    assert all(url.startswith((server_url, "blob:")) for url in requested)


def test_a_long_recording_shows_a_timeline_and_errors_show_as_text(page, server_url, tmp_path):
    from tests.conftest import write_long_recording

    path, _ = write_long_recording(tmp_path / "long.wav")
    page.goto(server_url + "/")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#timeline-section:not([hidden])")
    assert page.locator("#timeline .segment").count() > 3
    assert "Time per emotion" in page.inner_text("#shares")
    assert page.locator("#axis span").count() >= 3 and page.inner_text("#axis span >> nth=0") == "0 s"
    assert "the window most typical" in page.inner_text("#window")
    (tmp_path / "notes.wav").write_text("not audio")
    page.set_input_files("#file", str(tmp_path / "notes.wav"))
    page.wait_for_selector("#status.error")
    message = page.inner_text("#status")
    assert message.startswith("notes.wav: This file is not a recording we can read")
    assert "libsndfile" not in message and "decode" not in message


def test_record_from_the_microphone_and_see_the_prediction(page, server_url):
    page.goto(server_url + "/")
    page.click("#record")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Recording')")
    page.wait_for_timeout(1500)  # let the fake microphone deliver some audio
    page.click("#record")
    page.wait_for_function("document.getElementById('status').textContent === 'recording.wav: done.'")
    # Chromium's fake microphone plays beeps, not speech: the page shows an emotion or says why not.
    assert page.inner_text("#label").strip().lower() in (*EMOTIONS, "too short to judge", "no speech")


def test_the_page_plays_the_upload_back_and_offers_the_result_to_download(page, server_url, corpus):
    clip = corpus / "Actor_01" / "03-01-05-01-01-01-01.wav"
    page.goto(server_url + "/")
    page.set_input_files("#file", str(clip))
    page.wait_for_function("document.getElementById('status').textContent.endsWith('done.')")
    assert page.get_attribute("#player", "src").startswith("blob:")
    page.wait_for_function("document.getElementById('player').duration > 0")  # the audio is playable
    label = page.inner_text("#label").strip().lower()
    with page.expect_download() as json_download:
        page.click("#download-json")
    record = json.loads(Path(json_download.value.path()).read_text())
    assert json_download.value.suggested_filename == clip.stem + ".json"
    assert record["label"] == label and record["source"] == clip.name and "spectrogram_png" not in record
    with page.expect_download() as csv_download:
        page.click("#download-csv")
    rows = list(csv.DictReader(Path(csv_download.value.path()).read_text().splitlines()))
    assert [(r["row"], r["label"]) for r in rows] == [("file", label)]


def test_the_page_has_a_player_and_download_links(server_url):
    import httpx

    html = httpx.get(server_url + "/").text
    assert '<audio id="player" controls' in html
    assert 'id="download-json"' in html and 'id="download-csv"' in html


TWO_SPEAKERS = Path(__file__).parent / "data" / "two_speakers.json"


def test_speakers_get_a_timeline_lane_each_on_one_time_axis(page, server_url):
    """Asked for speakers, the page shows a lane per speaker (name, emotion, share of speech) in
    the usual colours over the common axis, a row per speaker, and a speaker column in the CSV;
    back on one voice it asks without `speakers` and draws the single strip as before. The
    server's answer is stubbed with a two-speaker record, so this tests the page alone."""
    from urllib.parse import parse_qs, urlsplit

    record = json.loads(TWO_SPEAKERS.read_text())
    one_voice = {**record, "speakers": None,
                 "timeline": [{k: v for k, v in s.items() if k != "speaker"} for s in record["timeline"]]}
    asked = []

    def answer(route):
        asked.append(parse_qs(urlsplit(route.request.url).query))
        body = record if "speakers" in asked[-1] else one_voice
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/predict?*", answer)
    try:
        page.goto(server_url + "/")
        assert page.input_value("#speakers") == ""  # one voice by default
        page.select_option("#speakers", "auto")
        page.set_input_files("#file", files=[{"name": "call.wav", "mimeType": "audio/wav", "buffer": b"RIFF"}])
        page.wait_for_selector("#lanes:not([hidden])")
        assert asked[-1]["speakers"] == ["auto"] and asked[-1]["image"] == ["true"]
        lanes = page.locator("#lanes .lane")
        assert [lanes.nth(i).get_attribute("data-speaker") for i in range(lanes.count())] == ["S1", "S2"]
        assert [lanes.nth(i).locator(".segment").count() for i in range(2)] == [4, 3]
        assert page.locator("#lanes .lane-name").all_inner_texts() == ["S1\nangry, 57 % of speech",
                                                                       "S2\nsad, 43 % of speech"]
        assert lanes.nth(0).get_attribute("aria-label") == "S1: 4 segments, overall angry, 57 % of speech"
        colour = "getComputedStyle(el).backgroundColor"
        assert lanes.nth(0).locator(".segment").first.evaluate(f"el => {colour}") == "rgb(229, 57, 53)"  # angry
        assert lanes.nth(1).locator(".segment").first.evaluate(f"el => {colour}") == "rgb(30, 136, 229)"  # sad
        assert page.is_hidden("#timeline")
        # every lane and the axis span the same stretch of the page: one time axis
        axis, first, second = (page.locator(s).bounding_box() for s in ("#axis", "#lanes .lane >> nth=0",
                                                                          "#lanes .lane >> nth=1"))
        for lane in (first, second):
            assert abs(lane["x"] - axis["x"]) < 1.5 and abs(lane["width"] - axis["width"]) < 3
        assert page.inner_text("#axis span >> nth=0") == "0 s"
        rows = page.locator("#speaker-table tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).locator("th, td").all_inner_texts() == ["S1", "angry", "52 %", "12 s", "57 %"]
        assert rows.nth(1).locator("th, td").all_inner_texts() == ["S2", "sad", "47 %", "9 s", "43 %"]
        with page.expect_download() as csv_download:
            page.click("#download-csv")
        table = list(csv.DictReader(Path(csv_download.value.path()).read_text().splitlines()))
        assert [(r["row"], r["speaker"]) for r in table] == [("file", ""), ("speaker", "S1"), ("speaker", "S2"), *(
            ("segment", s["speaker"]) for s in record["timeline"])]

        page.select_option("#speakers", "")  # the last audio is scored again, as one voice
        page.wait_for_selector("#lanes[hidden]", state="attached")
        assert "speakers" not in asked[-1] and len(asked) == 2
        assert page.is_visible("#timeline") and page.locator("#timeline .segment").count() == 7
        assert page.is_hidden("#speaker-table")
        with page.expect_download() as csv_download:
            page.click("#download-csv")
        assert "speaker" not in Path(csv_download.value.path()).read_text().splitlines()[0]
        page.select_option("#speakers", "channels")
        page.wait_for_selector("#lanes:not([hidden])")
        assert asked[-1]["speakers"] == ["channels"]
    finally:
        page.unroute("**/predict?*")
