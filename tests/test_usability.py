"""What a newcomer meets: help, quiet output, early checks, slim install, guided training."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from cli import main
from ser_img.labels import EMOTIONS
from tests.conftest import write_long_recording


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["render", "train", "evaluate", "predict", "serve", "demo"])
def test_every_command_has_examples_and_every_option_a_description(command):
    import click

    result = run(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and f"ser-img {command}" in result.stdout
    options = {p.opts[0]: p for p in main.commands[command].params if isinstance(p, click.Option)}
    assert all(option.help for option in options.values()), "an option has no description"
    if "--model" in options and command != "demo":
        assert "shipped in the package" in options["--model"].help


def test_quiet_prints_only_results_and_paths_are_checked_before_the_model_loads(monkeypatch, tmp_path):
    from ser_img.recognizer import EmotionRecognizer

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(EmotionRecognizer, "load", no_model)
    missing = run("predict", tmp_path / "missing.wav")
    assert missing.exit_code == 2 and missing.stderr.strip() == f"error: {tmp_path / 'missing.wav'}: no such file"
    empty = run("evaluate", tmp_path)
    assert empty.exit_code == 2 and "no audio files found" in empty.stderr
    (tmp_path / "clip.wav").write_bytes(b"")
    unlabelled = run("evaluate", tmp_path / "clip.wav")
    assert unlabelled.exit_code == 2 and "no labelled clips" in unlabelled.stderr


def test_a_run_where_every_file_fails_prints_no_table(tmp_path, corpus, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./artifacts here: the shipped model
    (tmp_path / "notes.wav").write_text("not audio")
    result = run("-q", "predict", tmp_path / "notes.wav", corpus / "nothing.wav")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines()[0] == "2 file(s) failed:"  # -q: no info line before it
    shown = run("predict", tmp_path / "notes.wav", tmp_path / "notes.wav")
    assert "model: ravdess-corpora-stack-int8 (shipped)" in shown.stderr and "long recordings" not in shown.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line(monkeypatch):
    from ser_img.recognizer import EmotionRecognizer

    monkeypatch.setattr(EmotionRecognizer, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", port)
    assert result.exit_code == 2
    assert result.stderr == f"error: 127.0.0.1:{port}: address already in use (another server? choose another --port)\n"


def test_a_long_recording_reports_progress_in_seconds_of_audio(recognizer, tmp_path):
    path, _ = write_long_recording(tmp_path / "long.wav")
    seen = []

    def progress(items, total, label):
        seen.append((total, label, sum(1 for _ in items)))
        return []

    answers = recognizer.predict_files([path], progress=progress)
    duration = soundfile.info(str(path)).duration
    ((total, label, ticks),) = seen
    assert total == int(np.ceil(duration)) and label == "long.wav (0:%02d of audio)" % round(duration)
    assert int(duration) - 1 <= ticks <= total and answers[0][1].is_timeline


def test_prediction_never_imports_tensorflow_and_training_says_what_to_install(stack_model, corpus, tmp_path):
    """As after a slim `pip install .`: TensorFlow and Keras cannot be imported at all."""
    clip = corpus / "Actor_01" / "03-01-05-01-01-01-01.wav"
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = sys.modules['keras'] = None  # any import of them fails\n"
        "from cli import main\n"
        "main(sys.argv[1:])\n")

    def cli(*args):
        return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, env={"PYTHONPATH": str(Path(__file__).parent.parent), "PATH": ""})

    predicted = cli("predict", clip, "--model", stack_model, "--json", "--explain")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)[0]["label"] in EMOTIONS
    evaluated = cli("-q", "evaluate", corpus / "Actor_02", "--model", stack_model, "--out", tmp_path / "e")
    assert evaluated.returncode == 0, evaluated.stderr
    trained = cli("train", "--images", tmp_path)
    assert trained.returncode == 2
    assert trained.stderr == "error: training needs TensorFlow: pip install 'ser-img[train]'\n"


def test_evaluation_lists_every_clip_and_names_the_model(recognizer, corpus, tmp_path):
    from pipelines.evaluate import evaluate

    result = evaluate([corpus / "Actor_03"], out_dir=tmp_path, recognizer=recognizer)
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["model"] == recognizer.model_info and set(report["model"]) == {"name", "version"}
    assert len(report["clips"]) == report["n"] == 16
    clip = report["clips"][0]
    assert set(clip) == {"source", "speaker", "true", "predicted", "correct", "probabilities", "warnings"}
    assert sum(c["correct"] for c in report["clips"]) == round(report["accuracy"] * 16)
    assert result.unlabelled == 0


def test_render_takes_speakers_from_folders_or_a_csv_and_says_what_training_needs(tmp_path, corpus, caplog):
    import csv
    import logging
    import shutil

    mine = tmp_path / "mine"
    for speaker in ("ann", "bob"):
        for emotion in ("angry", "sad"):
            (mine / speaker / emotion).mkdir(parents=True)
            source = corpus / "Actor_01" / f"03-01-0{EMOTIONS.index(emotion) + 1}-01-01-01-01.wav"
            shutil.copy(source, mine / speaker / emotion / f"{speaker}-{emotion}.wav")
    with caplog.at_level(logging.INFO, logger="ser_img"):
        assert run("render", mine, "--out", tmp_path / "img", "--size", "16", "--speaker-from", "folder").exit_code == 0
    rows = list(csv.DictReader(open(tmp_path / "img" / "manifest.csv")))
    assert sorted((r["speaker"], r["label"]) for r in rows) == [
        ("ann", "angry"), ("ann", "sad"), ("bob", "angry"), ("bob", "sad")]
    assert "training needs 3:" in caplog.text
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\nmine/ann/angry/ann-angry.wav,s1\nbob-sad.wav,s2\n")
    assert run("render", mine, "--out", tmp_path / "img", "--size", "16", "--speaker-from", table).exit_code == 0
    speakers = {Path(r["source"]).name: r["speaker"] for r in csv.DictReader(open(tmp_path / "img" / "manifest.csv"))}
    assert speakers == {"ann-angry.wav": "s1", "bob-sad.wav": "s2", "ann-sad.wav": "", "bob-angry.wav": ""}
    bad = run("render", mine, "--out", tmp_path / "img", "--speaker-from", tmp_path / "nope.csv")
    assert bad.exit_code == 2 and "no such file" in bad.stderr


def test_the_demo_starts_with_real_clips_and_their_attribution():
    from pipelines.demo import EXAMPLES, run_examples

    report = run_examples()
    assert [truth for _, truth, _ in report.rows] == list(EMOTIONS)
    assert "CC BY-NC-SA 4.0" in report.attribution and "(shipped)" in report.model_name
    assert "training data" in report.note  # the shipped model heard these actors: said, not hidden
    assert "CC BY-NC-SA 4.0" in (EXAMPLES / "README.md").read_text()
    assert sum(p.stat().st_size for p in EXAMPLES.glob("*.flac")) < 1_000_000


def test_serve_logs_every_request_on_stderr_and_nothing_on_stdout(stack_model, corpus, tmp_path):
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--model", str(stack_model), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parent.parent)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        clip = corpus / "Actor_01" / "03-01-05-01-01-01-01.wav"
        assert httpx.post(f"http://127.0.0.1:{port}/predict", files={"file": (clip.name, clip.read_bytes())},
                          timeout=60).status_code == 200
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert out == ""
    assert '"POST /predict HTTP/1.1" 200' in err and f"serving on http://127.0.0.1:{port}/" in err


def test_a_log_line_first_erases_a_progress_bar_being_drawn():
    import io
    import logging

    from pipelines import console

    stream = io.StringIO()
    handler = console.LogHandler(stream)
    record = logging.LogRecord("ser_img", logging.INFO, __file__, 1, "fold 1/6 done", None, None)
    handler.emit(record)
    console.Bars.drawing = True
    try:
        handler.emit(record)
    finally:
        console.Bars.drawing = False
    assert stream.getvalue() == "fold 1/6 done\n\r\x1b[2Kfold 1/6 done\n"


def test_explain_without_json_writes_one_picture_per_file(tmp_path, monkeypatch):
    from pipelines.demo import EXAMPLES

    monkeypatch.chdir(tmp_path)
    clips = sorted(EXAMPLES.glob("*.flac"))[:2]
    result = run("predict", *clips, "--explain", "--explain-dir", tmp_path / "maps")
    assert result.exit_code == 0 and "explanations: 2 image(s)" in result.stderr
    written = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert written == [c.with_suffix(".png").name for c in clips]
    assert (tmp_path / "maps" / written[0]).read_bytes().startswith(b"\x89PNG")
