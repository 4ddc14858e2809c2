"""`ser-img train --keep-cnns MODEL`: a model that keeps another's CNNs and the heads on them,
and fits the other members and the stack anew on the same folds."""

import dataclasses
import json

import numpy as np
import pytest

from ser_img.errors import UsageError
from ser_img.features.spectrogram import RenderSettings
from tests.conftest import TINY_TRAIN


@pytest.fixture(scope="module")
def mlp_model(images, tmp_path_factory):
    """A model whose CNNs all have an MLP head (a stack may drop a head it gives weight 0)."""
    from pipelines.train import train

    out = tmp_path_factory.mktemp("donor") / "mlp"
    train(images, "mlp", out, TINY_TRAIN)
    return out


def test_kept_cnns_and_heads_are_the_donors_and_score_as_they_did(images, mlp_model, tmp_path):
    from pipelines.train import train

    settings = dataclasses.replace(TINY_TRAIN, members=("cnn", "mlp", "desc"), seed=7, stack_weights=(1,),
                                   cnn=dataclasses.replace(TINY_TRAIN.cnn, epochs=9))
    report = train(images, "stack", tmp_path / "m", settings, keep_cnns=mlp_model)
    donor_files = json.loads((mlp_model / "manifest.json").read_text())["files"]
    files = json.loads((tmp_path / "m" / "manifest.json").read_text())["files"]
    kept = [f for f in files if f.startswith(("cnn_", "mlp_"))]
    assert len(kept) == 2 * 2 * 3 and all(files[name] == donor_files[name] for name in kept)  # the same bytes
    donor_oof, oof = np.load(mlp_model / "oof.npz"), np.load(tmp_path / "m" / "oof.npz")
    for member in ("cnn", "mlp"):
        np.testing.assert_allclose(oof[member], donor_oof[member], atol=1e-6)
    assert "desc" in oof and report.metrics["final"] == "stack"
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    assert description["cnns_from"] == "mlp"
    assert description["train_settings"]["cnn"]["epochs"] == TINY_TRAIN.cnn.epochs  # what the kept CNNs had
    assert "model mlp's, kept fold by fold" in (tmp_path / "m" / "MODEL_CARD.md").read_text()


def test_other_folds_or_a_head_the_donor_lacks_are_refused(images, mlp_model, tmp_path):
    from pipelines.train import train

    with pytest.raises(UsageError, match="held out other speakers"):
        train(images, "stack", tmp_path / "a", dataclasses.replace(TINY_TRAIN, max_folds=2), keep_cnns=mlp_model)
    with pytest.raises(UsageError, match="has no xgb to keep"):
        train(images, "stack", tmp_path / "b", dataclasses.replace(TINY_TRAIN, members=("cnn", "xgb")),
              keep_cnns=mlp_model)
    with pytest.raises(UsageError, match="keeps CNNs"):
        train(images, "stack", tmp_path / "c", dataclasses.replace(TINY_TRAIN, members=("desc",)),
              keep_cnns=mlp_model)


def test_only_what_no_cnn_reads_may_be_rendered_otherwise():
    from pipelines.keep_cnns import _check_settings

    trained = RenderSettings(whisper_precision="float32", encoder_layer=0)
    _check_settings("m", trained, RenderSettings(whisper_precision="int8", whisper_blocks=(2,), functionals="eGeMAPSv02"))
    with pytest.raises(UsageError, match="height differ"):
        _check_settings("m", trained, RenderSettings(height=64))
    with pytest.raises(UsageError, match="encoder_layer differ"):
        _check_settings("m", RenderSettings(encoder_layer=2), RenderSettings(encoder_layer=1))
