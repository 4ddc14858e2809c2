"""The CLI end to end on a tiny synthetic corpus, and its answers to bad input."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from ser_img.labels import EMOTIONS
from tests.conftest import write_long_recording

TRAIN_FAST = ["--epochs", "2", "--folds", "3"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, corpus):
    """A user's folder: rendered images and an xgb model trained with the default --out."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        rendered = run("render", corpus, "--size", "32")
        assert rendered.exit_code == 0, rendered.output
        assert "48 rendered" in rendered.stdout
        trained = run("train", "--head", "xgb", *TRAIN_FAST)
        assert trained.exit_code == 0, trained.output
    return root


def test_render_train_predict_as_typed(workdir, corpus, monkeypatch):
    monkeypatch.chdir(workdir)
    assert (workdir / "data" / "images" / "manifest.csv").is_file()
    models = list((workdir / "artifacts").glob("xgb-*/model.json"))
    assert len(models) == 1
    clip = corpus / "Actor_02" / "03-01-05-01-01-01-02.wav"
    result = run("predict", clip, "--json")
    assert result.exit_code == 0, result.output
    assert f"model: artifacts/{models[0].parent.name}" in result.stderr
    (record,) = json.loads(result.stdout)
    assert record["source"] == str(clip.resolve())
    from ser_img.recognizer import EmotionRecognizer

    assert list(record) == list(EmotionRecognizer.load(models[0].parent).predict(clip).to_dict())
    assert record["label"] in record["probabilities"] and len(record["probabilities"]) == 8
    assert sum(record["probabilities"].values()) == pytest.approx(1.0)


def test_train_reports_cross_validated_figures(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = run("train", "--head", "stack", *TRAIN_FAST, "--out", "artifacts/s", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics["overall"]) == {"cnn", "mlp", "desc", "enc", "whisper", "stack"}  # TrainSettings.members
    assert [len(f["test_speakers"]) for f in metrics["folds"]] == [1, 1, 1]
    for member in metrics["overall"].values():
        assert 0.0 <= member["accuracy"] <= 1.0 and member["n"] == 48


def test_same_seed_same_model(workdir, monkeypatch, corpus):
    monkeypatch.chdir(workdir)
    for name in ("a", "b"):
        assert run("train", "--head", "xgb", *TRAIN_FAST, "--out", name).exit_code == 0
    runs = [json.loads(run("predict", corpus / "Actor_03", "--model", name, "--json").stdout) for name in "ab"]
    assert [r["probabilities"] for r in runs[0]] == [r["probabilities"] for r in runs[1]]
    first, second = (json.loads((workdir / n / "metrics.json").read_text()) for n in "ab")
    assert first["overall"] == second["overall"]


def test_evaluate_writes_report_and_plot(workdir, corpus, monkeypatch):
    monkeypatch.chdir(workdir)
    result = run("evaluate", corpus, "--out", "report")
    assert result.exit_code == 0, result.output
    assert "confusion matrix" in result.stdout
    report = json.loads((workdir / "report" / "evaluation.json").read_text())
    assert report["n"] == 48 and np.array(report["confusion_matrix"]).sum() == 48
    assert (workdir / "report" / "confusion.png").stat().st_size > 0
    summary = report["warnings"]
    assert all(row["clips"] >= 1 and 0 <= row["accuracy"] <= 1 for row in summary.values())
    assert ("input warnings: none" in result.stdout) == (not summary)


def test_evaluate_sums_up_the_input_warnings_it_met():
    from types import SimpleNamespace

    from pipelines.evaluate import warning_summary
    from pipelines.tables import evaluation_table

    clips = [SimpleNamespace(label="angry", warnings=["background noise (speech 20 dB above it)"]),
             SimpleNamespace(label="sad", warnings=["background noise (speech 12 dB above it)", "clipped audio (x)"]),
             SimpleNamespace(label="calm", warnings=[])]
    summary = warning_summary(clips, ["angry", "angry", "calm"])
    assert summary == {"background noise": {"clips": 2, "accuracy": 0.5}, "clipped audio": {"clips": 1, "accuracy": 0.0}}
    lines = evaluation_table({"n": 3, "accuracy": 0.6, "uar": 0.5, "macro_f1": 0.4, "log_loss": 1.0, "brier": 0.5,
                              "ece": 0.1, "per_class": {}, "confusion_matrix": [[0] * 8] * 8, "warnings": summary})
    assert "  background noise: 2 clips, accuracy 0.500" in lines and "  clipped audio: 1 clip, accuracy 0.000" in lines


def test_predict_lists_bad_files_and_carries_on(workdir, corpus, monkeypatch, tmp_path):
    monkeypatch.chdir(workdir)
    (tmp_path / "notes.wav").write_text("this is text")
    good = corpus / "Actor_01" / "03-01-02-01-01-01-01.wav"
    result = run("predict", good, tmp_path / "notes.wav", tmp_path / "missing.wav")
    assert result.exit_code == 1
    assert "03-01-02-01-01-01-01.wav" in result.stdout
    assert "notes.wav: cannot decode audio" in result.stderr
    assert "missing.wav: no such file" in result.stderr
    assert "Traceback" not in result.output


def test_predict_without_a_model_uses_the_shipped_one(tmp_path, monkeypatch, corpus):
    monkeypatch.chdir(tmp_path)  # no ./artifacts here
    result = run("predict", corpus / "Actor_01", "--json")
    assert result.exit_code == 0, result.output
    assert "model: ravdess-corpora-stack-int8 (shipped)" in result.stderr and "site-packages" not in result.stderr
    records = json.loads(result.stdout)
    assert len(records) == 16 and all(abs(sum(r["probabilities"].values()) - 1) < 1e-6 for r in records)


def test_no_model_anywhere_is_a_clear_error(tmp_path, monkeypatch, corpus):
    import ser_img.store.load

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ser_img.store.load, "PACKAGED_MODEL", tmp_path / "not-installed")
    result = run("predict", corpus / "Actor_01")
    assert result.exit_code == 3
    assert "no model found" in result.stderr


def test_training_needs_labelled_images_from_two_speakers(tmp_path, monkeypatch, corpus):
    monkeypatch.chdir(tmp_path)
    empty = run("train", "--images", tmp_path / "nothing")
    assert empty.exit_code == 2 and "no such folder" in empty.stderr
    shutil.copytree(corpus / "Actor_01", tmp_path / "one" / "Actor_01")
    assert run("render", tmp_path / "one", "--out", "one_img", "--size", "32").exit_code == 0
    single = run("train", "--images", "one_img", "--head", "cnn", *TRAIN_FAST)
    assert single.exit_code == 2 and "at least 3" in single.stderr and "--speaker-from" in single.stderr
    unlabelled = tmp_path / "misc"
    unlabelled.mkdir()
    shutil.copy(corpus / "Actor_01" / "03-01-02-01-01-01-01.wav", unlabelled / "clip.wav")
    assert run("render", unlabelled, "--out", "misc_img", "--size", "32").exit_code == 0
    result = run("train", "--images", "misc_img")
    assert result.exit_code == 2 and "has an emotion label" in result.stderr


def test_render_of_a_folder_without_audio_is_a_usage_error(tmp_path):
    result = run("render", tmp_path, "--out", tmp_path / "img")
    assert result.exit_code == 2 and "no audio files found" in result.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "ser-img"  # beside the interpreter that runs the tests
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "ser-img, version" in result.stdout


def test_predict_gives_a_timeline_for_long_audio_as_csv_and_json(workdir, corpus, monkeypatch, tmp_path):
    monkeypatch.chdir(workdir)
    long, _ = write_long_recording(tmp_path / "long.wav")
    short = corpus / "Actor_01" / "03-01-02-01-01-01-01.wav"
    as_csv = run("predict", short, long, "--window", "2", "--hop", "1", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert list(rows[0]) == ["source", "row", "start", "end", "label", *EMOTIONS, "outcome", "speech_s", "warnings",
                             "error"]
    long_rows = [r for r in rows if r["source"] == str(long.resolve()) and r["row"] == "segment"]
    assert len([r for r in rows if r["source"] == str(short.resolve())]) == 1 and len(long_rows) > 3
    assert [float(r["start"]) for r in long_rows] == sorted(float(r["start"]) for r in long_rows)
    assert all(float(r["end"]) - float(r["start"]) <= 2.0 + 1e-6 for r in long_rows)
    as_json = json.loads(run("predict", short, long, "--window", "2", "--hop", "1", "--json").stdout)
    by_path = {r["source"]: r for r in as_json}
    record = by_path[str(long.resolve())]
    assert len(record["timeline"]) == len(long_rows) and sum(record["shares"].values()) == pytest.approx(1.0)
    assert record["label"] in record["probabilities"] and record["duration_s"] > 10
    table = run("predict", long, "--window", "2")
    assert "segments" in table.stdout and "time per emotion" in table.stdout
