"""The model store: file names, the manifest's checks, the default model, the card's data lines."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ser_img.errors import ModelError
from ser_img.runtime.files import sha256_file
from ser_img.store import load
from ser_img.store.card import UNKNOWN_LICENCE, data_lines, is_synthetic, weights_licence
from ser_img.store.load import PACKAGED_MODEL, find_default_model
from ser_img.store.manifest import FORMAT_VERSION, MANIFEST_FILE, MODEL_FILE, member_file, read_description


def test_member_files_per_fold_and_cnn():
    assert member_file("cnn", 1, 0) == "cnn_1_0.tflite"
    assert member_file("mlp", 2, 1) == "mlp_2_1.npz"
    assert member_file("enc", 3) == "enc_3.npz"


def _model_dir(tmp_path, description=None, extra=None):
    folder = tmp_path / "model"
    folder.mkdir()
    description = description or {"format_version": FORMAT_VERSION, "labels": json.loads(
        (PACKAGED_MODEL / MODEL_FILE).read_text())["labels"], "head": "stack"}
    (folder / MODEL_FILE).write_text(json.dumps(description))
    for name, content in (extra or {}).items():
        (folder / name).write_bytes(content)
    files = {p.name: sha256_file(p) for p in folder.iterdir()}
    (folder / MANIFEST_FILE).write_text(json.dumps({"files": files}))
    return folder


def test_read_description_lists_the_checked_files(tmp_path):
    folder = _model_dir(tmp_path, extra={"stacker.npz": b"x"})
    description = read_description(folder)
    assert description["head"] == "stack" and description["files"] == [MODEL_FILE, "stacker.npz"]


def test_an_altered_or_missing_file_is_refused(tmp_path):
    folder = _model_dir(tmp_path, extra={"stacker.npz": b"x"})
    (folder / "stacker.npz").write_bytes(b"y")
    with pytest.raises(ModelError, match="stacker.npz does not match its checksum"):
        read_description(folder)
    (folder / "stacker.npz").unlink()
    with pytest.raises(ModelError, match="stacker.npz is missing"):
        read_description(folder)


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(tmp_path):
    folder = _model_dir(tmp_path)
    (tmp_path / "outside").write_bytes(b"z")
    listed = json.loads((folder / MANIFEST_FILE).read_text())
    listed["files"]["../outside"] = sha256_file(tmp_path / "outside")
    (folder / MANIFEST_FILE).write_text(json.dumps(listed))
    with pytest.raises(ModelError, match="incomplete model"):
        read_description(folder)


@pytest.mark.parametrize("change, message", [({"format_version": 1}, "model format 1"),
                                             ({"labels": ["a", "b"]}, "are not ser-img's"),
                                             ({"head": "forest"}, "unknown head")])
def test_model_json_must_be_this_versions(tmp_path, change, message):
    labels = json.loads((PACKAGED_MODEL / MODEL_FILE).read_text())["labels"]
    folder = _model_dir(tmp_path, {"format_version": FORMAT_VERSION, "labels": labels, "head": "stack", **change})
    with pytest.raises(ModelError, match=message):
        read_description(folder)


def test_the_default_model_is_the_newest_under_artifacts_else_the_packaged_one(tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    assert find_default_model(artifacts) == PACKAGED_MODEL
    for i, name in enumerate(["old", "new", ".hidden"]):
        (artifacts / name).mkdir(parents=True)
        (artifacts / name / MODEL_FILE).write_text("{}")
        os.utime(artifacts / name / MODEL_FILE, (1000 + i, 1000 + i))
    (artifacts / "not-a-model").mkdir()
    assert find_default_model(artifacts) == artifacts / "new"
    shutil.rmtree(artifacts)
    monkeypatch.setattr(load, "PACKAGED_MODEL", tmp_path / "not-installed")
    assert find_default_model(artifacts) is None


def test_synthetic_corpora_are_recognised_by_their_marker(tmp_path):
    (tmp_path / "synth" / "Actor_01").mkdir(parents=True)
    (tmp_path / "synth" / "SYNTHETIC.txt").write_text("x")
    (tmp_path / "real").mkdir()
    synthetic = str(tmp_path / "synth" / "Actor_01" / "a.wav")
    assert is_synthetic([synthetic])
    assert not is_synthetic([synthetic, str(tmp_path / "real" / "b.wav")])
    assert not is_synthetic([])


def test_data_lines_name_each_corpus_and_its_licence():
    lines = data_lines(["ravdess-01", "ravdess-02", "tess-OAF", "someone"], 40, synthetic=False)
    assert lines[0] == "- 40 clips from 4 speakers."
    assert lines[1].startswith("- RAVDESS: 2 speakers (01, 02); ") and "CC BY-NC-SA" in lines[1]
    assert lines[2].startswith("- TESS: 1 speaker (OAF)")
    assert lines[3].startswith("- Other data, 1 speaker not from") and UNKNOWN_LICENCE in lines[3]
    assert "SYNTHETIC" in data_lines(["ravdess-01"], 8, synthetic=True)[0]


def test_weights_licence_is_the_training_datas():
    assert weights_licence(["ravdess-01", "tess-OAF"], None) == \
        "weights derived from data under CC BY-NC-SA 4.0 (RAVDESS), CC BY-NC-ND 4.0 (TESS)"
    assert weights_licence([], None, trained_on=["crema", "ravdess-tel"]) == \
        "weights derived from data under ODbL 1.0 (CREMA-D), CC BY-NC-SA 4.0 (RAVDESS)"
    assert "synthetic" in weights_licence(["ravdess-01"], "... SYNTHETIC audio ...")
