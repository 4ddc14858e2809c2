"""Refuse, warn, or say "uncertain" (issue 17): too little speech gets an outcome that is not an
emotion, inputs outside what the model was measured on get warnings, evaluate separates the
model's own training speakers, explanations are drawn on a fixed scale."""

import csv
import json

import httpx
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from cli import main
from ser_img.speech import quality
from ser_img.audio.decode import load_audio, to_rate
from ser_img.report.explain import NOISE_FLOOR, SCALE_MAX, heat, overlay, stands_out, summary

CLIP = "Actor_01/03-01-05-01-01-01-01.wav"


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def _speech(corpus) -> np.ndarray:
    return load_audio(corpus / CLIP, 16000).samples


def _write(path, samples, rate=16000):
    soundfile.write(str(path), samples, rate, subtype="FLOAT")
    return path


@pytest.fixture
def slices(corpus, tmp_path):
    """A 10-ms and a 0.1-s slice of speech, and a second of faint noise with no speech in it."""
    speech = _speech(corpus)
    middle = len(speech) // 2
    noise = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), 16000).astype(np.float32)
    return {"ten_ms": _write(tmp_path / "ten_ms.wav", speech[middle : middle + 160]),
            "tenth": _write(tmp_path / "tenth.wav", speech[middle : middle + 1600]),
            "hiss": _write(tmp_path / "hiss.wav", noise)}


def test_near_empty_audio_gets_too_short_not_an_emotion_in_python(recognizer, slices):
    for name in ("ten_ms", "tenth"):
        result = recognizer.predict(slices[name])
        assert result.outcome == "too short" and result.label is None and result.top(3) == []
        assert result.speech_s < quality.MIN_SPEECH_S and result.scores is None
        record = result.to_dict()
        assert record["label"] is None and record["outcome"] == "too short" and record["probabilities"] is None
    hiss = recognizer.predict(slices["hiss"])
    assert hiss.outcome == "no speech" and hiss.speech_s == 0 and hiss.label is None


def test_too_short_in_every_cli_output(stack_model, slices, corpus, tmp_path):
    args = ["predict", slices["tenth"], slices["hiss"], corpus / CLIP, "--model", stack_model]
    table = run(*args, "-q")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "too short (0.1 s of speech)" in lines[1] and "no speech" in lines[2]
    assert lines[3].split()[1] in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    records = json.loads(run(*args, "--json").stdout)
    assert [r["outcome"] for r in records] == ["too short", "no speech", "emotion"]
    assert records[0]["label"] is None and records[0]["timeline"] == [] and records[2]["label"] is not None
    rows = list(csv.DictReader(run(*args, "--csv").stdout.splitlines()))
    assert [(r["outcome"], r["label"]) for r in rows][:2] == [("too short", ""), ("no speech", "")]
    assert rows[0]["neutral"] == ""
    lines = [json.loads(line) for line in run(*args, "--jsonl").stdout.splitlines()]
    assert lines[0]["outcome"] == "too short"


def test_too_short_in_parquet(stack_model, slices, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "results.parquet"
    result = run("predict", slices["tenth"], "--model", stack_model, "--out", out)
    assert result.exit_code == 0, result.output
    (row,) = pq.read_table(out / "files").to_pylist()
    assert row["outcome"] == "too short" and row["label"] is None and row["neutral"] is None
    assert row["error"] is None


def test_too_short_over_http(server_url, slices):
    response = httpx.post(f"{server_url}/predict?image=true", files={"file": ("t.wav", slices["ten_ms"].read_bytes())})
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "too short" and body["label"] is None and "spectrogram_png" not in body


def test_the_web_page_words_the_outcomes_and_warnings(server_url):
    html = httpx.get(server_url + "/").text
    assert '"too short": "Too short to judge"' in html and '"no speech": "No speech found"' in html
    assert 'id="warnings"' in html and "Take this answer with care" in html


# -- warnings about the input -------------------------------------------------------------

def _degraded(corpus, tmp_path):
    speech = _speech(corpus) / np.abs(_speech(corpus)).max() * 0.5
    noise = np.random.default_rng(1).normal(0, np.sqrt(np.mean(speech**2)), speech.shape).astype(np.float32)
    return {
        "clean": _write(tmp_path / "clean.wav", speech),
        "narrowband": _write(tmp_path / "phone.wav", to_rate(speech, 16000, 8000), 8000),
        "clipped": _write(tmp_path / "clipped.wav", np.clip(speech * 12, -1, 1)),
        "quiet": _write(tmp_path / "quiet.wav", speech * 10 ** (-60 / 20)),  # speech at -78 dBFS
        "noisy": _write(tmp_path / "noisy.wav", speech + noise),
    }


@pytest.mark.parametrize("kind", ["narrowband", "clipped", "quiet", "noisy"])
def test_inputs_outside_what_the_model_was_measured_on_get_a_warning(recognizer, corpus, tmp_path, kind):
    files = _degraded(corpus, tmp_path)
    assert recognizer.predict(files["clean"]).warnings == []
    words = {"narrowband": "narrowband", "clipped": "clipped", "quiet": "very low level", "noisy": "noise"}[kind]
    warnings = recognizer.predict(files[kind]).warnings
    assert len(warnings) >= 1 and any(words in w for w in warnings), warnings


def test_warnings_are_one_stderr_line_per_file_and_a_field_of_every_record(stack_model, corpus, tmp_path):
    files = _degraded(corpus, tmp_path)
    result = run("predict", files["clean"], files["clipped"], files["noisy"], "--model", stack_model, "--json")
    records = json.loads(result.stdout)
    assert records[0]["warnings"] == [] and records[1]["warnings"] and records[2]["warnings"]
    lines = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert [line.split(": warning: ")[0] for line in lines] == [str(files["clipped"]), str(files["noisy"])]


# -- evaluate: the model's own speakers apart, and calibration -----------------------------

def test_evaluate_separates_the_models_training_speakers(stack_model, corpus, tmp_path):
    from ser_img.corpus.synth import generate_corpus

    new_voices = tmp_path / "new"
    generate_corpus(new_voices, actors=[9], sample_rate=16000)
    out = tmp_path / "report"
    result = run("evaluate", corpus / "Actor_01", new_voices, "--model", stack_model, "--out", out)
    assert result.exit_code == 0, result.output
    assert "CAUTION: 16 of 32 clips are from speakers the model was trained on (ravdess-01)" in result.stdout
    assert "the other speakers: accuracy" in result.stdout and "log-loss" in result.stdout
    report = json.loads((out / "evaluation.json").read_text())
    assert report["training_speakers"] == ["ravdess-01"] and report["n_training_speakers_clips"] == 16
    assert report["on_training_speakers"]["n"] == 16 and report["on_other_speakers"]["n"] == 16
    assert {"log_loss", "brier", "ece"} <= set(report) and report["reliability"]
    assert (out / "reliability.png").read_bytes().startswith(b"\x89PNG")


def test_evaluate_without_overlap_has_no_caution(stack_model, tmp_path):
    from ser_img.corpus.synth import generate_corpus

    generate_corpus(tmp_path / "new", actors=[9], sample_rate=16000)
    result = run("evaluate", tmp_path / "new", "--model", stack_model, "--out", tmp_path / "r")
    assert result.exit_code == 0 and "CAUTION" not in result.stdout


def test_evaluate_says_why_emodb_boredom_is_left_out(stack_model, tmp_path):
    import shutil

    from ser_img.corpus.synth import generate_corpus

    generate_corpus(tmp_path / "new", actors=[9], sample_rate=16000)
    first = sorted((tmp_path / "new").rglob("*.wav"))[0]
    shutil.copy(first, tmp_path / "new" / "03a01Lb.wav")  # EmoDB's name for boredom
    result = run("evaluate", tmp_path / "new", "--model", stack_model, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "1 of 17 files have no emotion label in their name or folder: left out " \
           "(1: EmoDB boredom (L, Langeweile) is none of the eight classes)" in result.stderr


# -- explanations on a fixed scale --------------------------------------------------------

def test_a_tiny_effect_is_not_painted_bright_and_is_said_to_be_noise():
    image = np.full((32, 32, 3), 120, np.uint8)
    tiny = np.zeros((8, 8))
    tiny[0, 0] = 0.004  # the case: hiding the top cell moves the probability by 0.004
    assert not stands_out(tiny) and heat(tiny).max() == 0
    assert np.array_equal(overlay(image, tiny), overlay(image, np.zeros((8, 8))))
    assert summary(tiny, "happy").startswith("Nothing stands out")


def test_the_scale_is_fixed_and_drawn_as_a_legend():
    image = np.full((32, 32, 3), 120, np.uint8)
    small, large = np.zeros((8, 8)), np.zeros((8, 8))
    small[0, 0], large[0, 0] = SCALE_MAX / 2, SCALE_MAX * 2
    assert heat(small)[0, 0] == pytest.approx(0.5) and heat(large)[0, 0] == 1.0  # not each map's own peak
    picture = overlay(image, small)
    assert picture.shape[0] > picture.shape[1]  # a legend strip under the square picture
    assert stands_out(small) and "lowers the angry probability by 0.12" in summary(small, "angry")
    assert NOISE_FLOOR < SCALE_MAX


def test_the_explanation_record_says_its_scale(recognizer, corpus):
    record = recognizer.predict(corpus / CLIP, explain=True).to_dict()["explanation"]
    assert record["scale"] == {"unit": "drop in the label's probability", "max": SCALE_MAX, "noise_floor": NOISE_FLOOR}
    assert isinstance(record["stands_out"], bool) and record["summary"]


def test_predict_explain_says_in_words_what_stands_out(stack_model, corpus, tmp_path):
    result = run("predict", corpus / CLIP, "--model", stack_model, "--explain", "--explain-dir", tmp_path / "x")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stderr.splitlines() if line.startswith(str(corpus / CLIP)))
    assert "Nothing stands out" in line or "Hiding the brightest region lowers" in line
    assert (tmp_path / "x" / "03-01-05-01-01-01-01.png").exists()
