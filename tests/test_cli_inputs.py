"""The CLI on a folder of mixed content: one line per bad file, the rest processed, exit codes."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from tests.sounds import tone, write


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


BAD = {"empty.mp3": "empty file (0 bytes)", "text.wav": "not an audio file",
       "sub/silence.wav": "silent (no sound above -100 dBFS)"}


@pytest.fixture
def mixed(tmp_path):
    """Four good clips in three formats, three bad ones, and files that are not audio at all."""
    root = tmp_path / "mixed"
    write(root / "good.wav", tone(0.5), 16000)
    write(root / "sub" / "good.flac", tone(0.5, 44100, 300.0, channels=2), 44100, "FLAC")
    write(root / "sub" / "deeper" / "good.ogg", tone(0.5, 22050, 500.0), 22050, "OGG", "VORBIS")
    write(root / "Actor_01" / "03-01-05-01-01-01-01.wav", tone(0.5, 48000, 700.0), 48000)
    (root / "empty.mp3").write_bytes(b"")
    (root / "text.wav").write_text("not a sound\n")
    write(root / "sub" / "silence.wav", np.zeros(8000, np.float32), 16000)
    (root / "notes.txt").write_text("ignored: not an audio extension")
    (root / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def _assert_failures_listed(result, root):
    assert "Traceback" not in result.output
    assert f"{len(BAD)} file(s) failed:" in result.stderr
    for name, reason in BAD.items():
        line = next(line for line in result.stderr.splitlines() if line.strip().startswith(str(root / name)))
        assert reason in line


def test_render_carries_on_past_bad_files_and_lists_them(mixed, tmp_path):
    result = run("render", mixed, "--out", tmp_path / "img", "--size", "32", "--workers", "1")
    assert result.exit_code == 1
    assert "4 rendered, 0 up to date, 3 failed" in result.stdout
    _assert_failures_listed(result, mixed)
    with open(tmp_path / "img" / "manifest.csv") as handle:
        sources = [line.split(",")[0] for line in handle.readlines()[1:]]
    assert len(sources) == 7 and not any(s.endswith((".txt", ".png")) for s in sources)
    again = run("render", mixed, "--out", tmp_path / "img", "--size", "32", "--workers", "1")
    assert again.exit_code == 1 and "0 rendered, 4 up to date, 3 failed" in again.stdout


def test_predict_carries_on_past_bad_files_and_lists_them(mixed, stack_model):
    result = run("predict", mixed, "--model", stack_model, "--json")
    assert result.exit_code == 1
    # Digital silence is audio with nothing to judge, for prediction: the outcome "no speech",
    # like the steady tones, not a failure (render still lists it: it cannot train anything).
    unusable = {name: reason for name, reason in BAD.items() if name != "sub/silence.wav"}
    assert f"{len(unusable)} file(s) failed:" in result.stderr and "Traceback" not in result.output
    records = json.loads(result.stdout)
    assert [r["outcome"] for r in records if "error" not in r] == ["no speech"] * 5
    assert {r["source"] for r in records if "error" in r} == {str(mixed / name) for name in unusable}
    assert all(r["outcome"] == "error" for r in records if "error" in r)


def test_a_path_that_does_not_exist_fails_with_exit_1(tmp_path):
    result = run("render", tmp_path / "nowhere.wav", "--out", tmp_path / "img")
    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere.wav'}: no such file" in result.stderr


def test_an_output_that_cannot_be_written_is_one_line_exit_2(mixed, tmp_path):
    (tmp_path / "taken").write_text("a file where the output folder should go")
    result = run("render", mixed / "good.wav", "--out", tmp_path / "taken" / "img")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'taken' / 'img'}: Not a directory"


@pytest.mark.parametrize("args", [["render"], ["render", "x.wav", "--size", "2"], ["predict"], ["nonsense"]])
def test_usage_errors_exit_2(args):
    assert run(*args).exit_code == 2


def test_an_altered_model_exits_3_with_one_line(mixed, stack_model, tmp_path):
    altered = shutil.copytree(stack_model, tmp_path / "altered")
    with open(altered / "stacker.npz", "ab") as handle:
        handle.write(b"\0")
    result = run("predict", mixed / "good.wav", "--model", altered)
    assert result.exit_code == 3
    assert result.stderr.strip() == f"error: {altered}: stacker.npz does not match its checksum (altered or damaged)"
