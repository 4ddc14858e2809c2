"""Model directories: appear only when complete, survive an interrupted save, and load
only when every file is what the manifest says; nothing in them is unpickled."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ser_img.errors import ModelError
from ser_img.store.load import load_model


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("replacing", [True, False])
def test_interrupted_save_leaves_the_good_model_and_no_partial_one(stack_model, tmp_path, monkeypatch, replacing):
    from ser_img.members.heads import DenseHead
    from ser_img.store.save import save_model

    model = load_model(stack_model)
    target = tmp_path / "models" / "current"
    if replacing:
        shutil.copytree(stack_model, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()} if replacing else None
    monkeypatch.setattr(DenseHead, "save", _interrupt)  # the stacker is saved after the fold models
    with pytest.raises(KeyboardInterrupt):
        save_model(model, target, json.loads((stack_model / "metrics.json").read_text()), replace=True)
    assert [p.name for p in target.parent.iterdir()] == (["current"] if replacing else [])
    if replacing:
        assert {p.name: p.read_bytes() for p in target.iterdir()} == before
        load_model(target)


def test_model_directory_appears_only_when_complete(stack_model, tmp_path, monkeypatch):
    import ser_img.store.save as save_module

    model = load_model(stack_model)
    target = tmp_path / "new"
    swap = save_module._swap_into_place
    staged = []

    def watch(staging, out_dir):
        staged.append((out_dir.exists(), sorted(p.name for p in staging.iterdir())))
        swap(staging, out_dir)

    monkeypatch.setattr(save_module, "_swap_into_place", watch)
    save_module.save_model(model, target, {"final": "stack"})
    (existed, files), = staged
    assert not existed and files == sorted(p.name for p in target.iterdir())
    assert "manifest.json" in files and "stacker.npz" in files
    load_model(target)


@pytest.mark.parametrize("manifest", ['{"files": ["model.json"]}', '{"files": {"model.json": 1}}', "[]", "{"])
def test_a_malformed_model_manifest_is_refused(tmp_path, manifest):
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(ModelError, match="not a ser-img model"):
        load_model(tmp_path)


class _Payload:
    """Unpickling this would create `marker`: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickled_array_in_a_model_is_refused_not_loaded(stack_model, tmp_path):
    copy = shutil.copytree(stack_model, tmp_path / "copy")
    marker = tmp_path / "unpickled"
    np.savez(copy / "stacker.npz", weights=np.array([_Payload(marker)], dtype=object))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["stacker.npz"] = hashlib.sha256((copy / "stacker.npz").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(copy)
    assert not marker.exists()


def test_a_missing_model_points_at_the_one_an_interrupted_swap_set_aside(tmp_path):
    (tmp_path / ".current.4242.old").mkdir()
    with pytest.raises(ModelError, match=r"no such model directory \(an interrupted save left the previous "
                                         r"model at .*\.current\.4242\.old: rename it back\)"):
        load_model(tmp_path / "current")
    with pytest.raises(ModelError, match=r"other: no such model directory$"):
        load_model(tmp_path / "other")


@pytest.fixture(scope="module")
def encoder_model(images, tmp_path_factory) -> Path:
    """A model whose only member reads the voice encoder, so the encoder is surely in it."""
    import dataclasses

    from pipelines.train import train
    from tests.conftest import TINY_TRAIN

    out = tmp_path_factory.mktemp("models") / "enc"
    train(images, "stack", out, dataclasses.replace(TINY_TRAIN, members=("enc",)))
    return out


def test_model_refuses_other_encoder_weights_than_it_was_trained_with(encoder_model, tmp_path, monkeypatch):
    from ser_img.features import encoder

    stack_model = encoder_model
    description = json.loads((stack_model / "model.json").read_text())
    assert description["render_settings"]["encoder_layer"] == 2
    assert description["extractor_files"] == {
        "encoders/ge2e_resemblyzer.npz": hashlib.sha256(encoder.WEIGHTS.read_bytes()).hexdigest()}
    other = tmp_path / "ge2e_resemblyzer.npz"
    with np.load(encoder.WEIGHTS) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["linear_bias"] = arrays["linear_bias"] + 1.0
    np.savez(other, **arrays)
    import ser_img.features.extractors as features

    changed = tuple(e if e.name != "enc" else type(e)(e.name, e.enabled, e.size, e.compute, lambda settings: (other,))
                    for e in features.EXTRACTORS)
    monkeypatch.setattr(features, "EXTRACTORS", changed)
    with pytest.raises(ModelError, match="trained with encoders/ge2e_resemblyzer.npz"):
        load_model(stack_model)
