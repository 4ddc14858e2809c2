"""The rough edges a newcomer hits (issue 17): options where typed, order, CSV, JSON Lines,
the Python API's names, the demo's hints and its synthetic model."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cli import main
from ser_img.errors import SerImgError
from ser_img.labels import EMOTIONS
from ser_img.records import FileAnswer, Recognition
from tests.conftest import write_long_recording

A = Path("Actor_01") / "03-01-05-01-01-01-01.wav"
B = Path("Actor_02") / "03-01-02-01-01-01-02.wav"


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def test_quiet_and_verbose_work_after_the_command_name(stack_model, corpus):
    quiet = run("predict", corpus / A, "--model", stack_model, "-q")
    assert quiet.exit_code == 0, quiet.output
    assert "model:" not in quiet.stderr and quiet.stdout.startswith("file")
    chatty = run("predict", corpus / A, "--model", stack_model)
    assert "model:" in chatty.stderr


def test_results_come_in_the_order_given(stack_model, corpus):
    result = run("predict", corpus / B, corpus / A, "--model", stack_model, "--json")
    assert [r["source"] for r in json.loads(result.stdout)] == [str(corpus / B), str(corpus / A)]


def test_csv_has_an_overall_row_per_file_and_a_row_per_failure(stack_model, corpus, tmp_path, monkeypatch):
    long, _ = write_long_recording(tmp_path / "long.wav")
    (tmp_path / "notes.wav").write_text("not audio")
    monkeypatch.chdir(tmp_path)
    result = run("predict", "nope.wav", long, "notes.wav", corpus / A, "--model", stack_model, "--csv",
                 "--window", "2", "--hop", "1")
    assert result.exit_code == 1
    rows = list(csv.DictReader(result.stdout.splitlines()))
    files = [r for r in rows if r["row"] == "file"]
    assert [r["source"] for r in files] == [str(tmp_path / "nope.wav"), str(long), str(tmp_path / "notes.wav"),
                                            str(corpus / A)]  # absolute, in order, failures included
    assert files[0]["error"].endswith("nope.wav: no such file") and files[0]["label"] == ""
    assert "cannot decode audio" in files[2]["error"]
    overall = files[1]
    assert overall["label"] in EMOTIONS and float(overall["end"]) > 10 and overall["error"] == ""
    segments = [r for r in rows if r["row"] == "segment"]
    assert len(segments) > 3 and {r["source"] for r in segments} == {str(long)}
    assert rows.index(overall) < rows.index(segments[0])  # the overall row first


def test_a_file_named_twice_is_answered_once_and_the_warning_says_so(stack_model, corpus):
    result = run("predict", corpus / A, corpus / B, corpus / A, "--model", stack_model, "--json")
    assert result.exit_code == 0, result.output
    assert [r["source"] for r in json.loads(result.stdout)] == [str(corpus / A), str(corpus / B)]
    assert f"1 file(s) named more than once, answered once: {corpus / A}" in result.stderr


def test_json_lines_give_one_record_per_line_in_order(stack_model, corpus, tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    result = run("predict", corpus / B, tmp_path / "notes.wav", corpus / A, "--model", stack_model, "--jsonl")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["source"]).name for r in records] == [B.name, "notes.wav", A.name]
    assert records[1]["label"] is None and "cannot decode" in records[1]["error"]
    assert records[0]["label"] in EMOTIONS and set(records[0]["probabilities"]) == set(EMOTIONS)


def test_json_lines_stream_in_chunks(recognizer, corpus):
    from pipelines.predict import iter_answers

    paths = [corpus / A, corpus / B, corpus / A.with_name("missing.wav")]
    answers = iter_answers(recognizer, paths, chunk=1)
    first = next(answers)  # the first file's answer before the others are scored
    assert first[0] == str(corpus / A) and isinstance(first[1], Recognition)
    assert [source for source, _ in answers] == [str(paths[1]), str(paths[2])]


def test_the_python_api_names_its_probabilities(recognizer, corpus):
    result = recognizer.predict(corpus / A)
    assert list(result.scores) == list(EMOTIONS)
    assert result.scores[result.label] == pytest.approx(float(np.max(result.probabilities)))
    top = result.top(3)
    assert [name for name, _ in top][0] == result.label and len(top) == 3
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert sum(result.time_shares.values()) == pytest.approx(1.0)
    assert result.timeline[0].top(1)[0][0] == result.timeline[0].label


def test_predict_files_says_plainly_which_files_failed(recognizer, corpus, tmp_path):
    missing = tmp_path / "missing.wav"
    good, bad = recognizer.predict_files([corpus / A, missing])
    assert isinstance(good, FileAnswer) and good.ok and good.error is None and good.result.label in EMOTIONS
    assert not bad.ok and bad.result is None and isinstance(bad.error, SerImgError)
    assert "no such file" in str(bad.error)
    path, answer = good  # still a (path, answer) pair
    assert path == corpus / A and answer is good.result


def test_the_recognizer_says_what_it_is(recognizer, stack_model):
    text = repr(recognizer)
    assert text.startswith("EmotionRecognizer(model='stack', version=") and "window_s=2" in text
    assert str(stack_model) in text and "object at 0x" not in text


def test_predict_with_the_synthetic_demo_model_warns(stack_model, corpus):
    result = run("predict", corpus / A, "--model", stack_model, "-q")
    assert "trained on SYNTHETIC audio" in result.stderr and result.exit_code == 0


def test_demo_workdir_holds_the_model_too(monkeypatch, tmp_path):
    import pipelines.demo

    seen = {}

    def fake_demo(workdir, model_dir, **kwargs):
        seen["model_dir"] = model_dir
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(cli, "require_tensorflow", lambda: None)
    monkeypatch.setattr(pipelines.demo, "run_demo", fake_demo)
    result = run("demo", "--workdir", tmp_path / "d")
    assert result.exit_code == 130
    assert seen["model_dir"] == tmp_path / "d" / "model"


def test_the_demo_hint_names_the_program_as_it_was_run(monkeypatch, tmp_path):
    from pipelines.console import own_command

    script = tmp_path / ".venv" / "bin" / "ser-img"
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setattr("shutil.which", lambda name: None)  # .venv/bin is not on PATH
    assert own_command() == str(script)
    monkeypatch.setattr("shutil.which", lambda name: str(script))
    assert own_command() == "ser-img"
