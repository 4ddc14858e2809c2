import dataclasses
import json
import warnings

import numpy as np
import pytest

from ser_img.corpus.dataset import load_labelled_images
from ser_img.errors import ModelError
from ser_img.members.heads import DenseHead, LogisticHead
from ser_img.members.registry import REGISTRY
from ser_img.store.load import load_model
from ser_img.ensemble.settings import TrainSettings


def test_dense_heads_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(80, 6)), rng.integers(0, 8, 80)
    for name, head in [("mlp", REGISTRY["mlp"].cls().fit(features, labels)), ("lr", LogisticHead().fit(features, labels))]:
        head.save(tmp_path / f"{name}.npz")
        loaded = type(head).load(tmp_path / f"{name}.npz")
        assert np.array_equal(loaded.predict_proba(features), head.predict_proba(features))
        assert np.allclose(head.predict_proba(features).sum(axis=1), 1.0)


@pytest.mark.parametrize("n_classes", [2, 8])
def test_array_form_gives_sklearns_own_probabilities(n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(3)
    features, labels = rng.normal(size=(120, 5)), rng.integers(0, n_classes, 120) * (8 // n_classes)
    zeros, ones = np.zeros(5), np.ones(5)
    for model in [LogisticRegression(max_iter=500), MLPClassifier((7, 5), max_iter=50, random_state=0)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the MLP need not converge to be converted
            model.fit(features, labels)
        ours = DenseHead.from_sklearn(model, zeros, ones).predict_proba(features)
        assert np.allclose(ours[:, model.classes_], model.predict_proba(features), atol=1e-9)


def test_two_class_heads_fill_all_eight_columns():
    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(40, 4)), np.array([2, 5] * 20)
    probabilities = LogisticHead().fit(features, labels).predict_proba(features)
    assert probabilities.shape == (40, 8)
    assert np.allclose(probabilities[:, [2, 5]].sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ["xgb", "lgbm"])
def test_boosted_heads_round_trip_exactly(tmp_path, name):
    rng = np.random.default_rng(2)
    features, labels = rng.normal(size=(60, 5)), rng.integers(0, 8, 60)
    cls = REGISTRY[name].cls
    head = cls(rounds=20).fit(features, labels)
    head.save(tmp_path / cls.file_name)
    loaded = cls.load(tmp_path / cls.file_name)
    assert np.array_equal(loaded.predict_proba(features), head.predict_proba(features))


def ONE_CORPUS(n):
    return np.array(["data"] * n)


def ALL(n):
    """Every clip a home-corpus clip (where the temperature is fitted)."""
    return np.ones(n, dtype=bool)


def test_saved_model_loads_to_identical_probabilities(stack_model, images):
    data = load_labelled_images(images)
    first = load_model(stack_model).member_probabilities(data.images[:10], data.features[:10])
    second = load_model(stack_model).member_probabilities(data.images[:10], data.features[:10])
    description = json.loads((stack_model / "model.json").read_text())
    assert set(first) == {*description["members"], "stack"}
    for name in first:
        assert np.array_equal(first[name], second[name])
        assert np.allclose(first[name].sum(axis=1), 1.0)


def test_model_records_its_render_settings_and_metrics(stack_model, images):
    from ser_img.corpus.manifest import read_settings

    model = load_model(stack_model)
    rendered, kept = read_settings(images), json.loads((stack_model / "model.json").read_text())["members"]
    # The same settings, less the extractors no saved member reads (prediction skips them).
    assert model.render_settings.encoder_layer == (rendered.encoder_layer if {"mlp", "enc"} & set(kept) else 0)
    assert dataclasses.replace(model.render_settings, encoder_layer=rendered.encoder_layer) == rendered
    metrics = json.loads((stack_model / "metrics.json").read_text())
    assert metrics["final"] == "stack" and len(metrics["folds"]) == 3
    assert (stack_model / "confusion.png").stat().st_size > 0


def test_out_of_fold_probabilities_are_kept_and_grouped_by_speaker(stack_model):
    oof = np.load(stack_model / "oof.npz", allow_pickle=False)
    trained = json.loads((stack_model / "model.json").read_text())["trained_members"]
    assert trained == ["cnn", "mlp", "desc", "enc", "whisper"]  # TrainSettings.members: every one measured, weight or not
    for name in (*trained, "stack"):
        assert oof[name].shape == (48, 8) and np.allclose(oof[name].sum(axis=1), 1.0)
    folds_of_speaker = {}
    for speaker, fold in zip(oof["speakers"], oof["fold"]):
        folds_of_speaker.setdefault(str(speaker), set()).add(int(fold))
    assert all(len(folds) == 1 for folds in folds_of_speaker.values())
    assert len(folds_of_speaker) == 3


def _copy(model_dir, tmp_path):
    import shutil

    return shutil.copytree(model_dir, tmp_path / "copy")


def test_altered_model_is_refused(stack_model, tmp_path):
    copy = _copy(stack_model, tmp_path)
    with open(copy / "stacker.npz", "ab") as handle:
        handle.write(b"\n")
    with pytest.raises(ModelError, match="stacker.npz does not match its checksum"):
        load_model(copy)


def test_incomplete_model_is_refused(stack_model, tmp_path):
    copy = _copy(stack_model, tmp_path)
    member_file = next(name for name in json.loads((copy / "manifest.json").read_text())["files"] if name != "model.json")
    (copy / member_file).unlink()
    with pytest.raises(ModelError, match=f"{member_file} is missing"):
        load_model(copy)


def test_incompatible_model_is_refused(stack_model, tmp_path):
    import hashlib

    copy = _copy(stack_model, tmp_path)
    description = json.loads((copy / "model.json").read_text())
    description["format_version"] = 99
    (copy / "model.json").write_text(json.dumps(description))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256((copy / "model.json").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format 99 is not supported"):
        load_model(copy)


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not a ser-img model"):
        load_model(tmp_path)


def test_inference_runs_without_tensorflow(stack_model, corpus):
    """Loading and predicting go through LiteRT: TensorFlow is never imported."""
    import subprocess
    import sys

    clip = next(corpus.rglob("*.wav"))
    script = (
        "import sys\n"
        "from ser_img.audio.decode import load_audio\n"
        "from ser_img.store.load import load_model\n"
        f"model = load_model({str(stack_model)!r})\n"
        f"p = model.predict_signals([load_audio({str(clip)!r}, model.render_settings.sample_rate).samples])\n"
        "assert abs(p.sum() - 1) < 1e-6, p\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_lite_cnn_matches_keras_and_a_mismatch_is_refused(monkeypatch):
    import pipelines.train as training
    from ser_img.members.cnn import build_cnn
    from ser_img.members.settings import CnnSettings

    keras_cnn = build_cnn(32, 32, 8, CnnSettings(channels=(4, 8)))
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3)).astype(np.uint8)
    lite = training._deployable(keras_cnn, images)
    assert lite.outputs(images)[0].shape == (10, 64)
    monkeypatch.setattr(training, "LITE_TOLERANCE", -1.0)
    with pytest.raises(ModelError, match="differs from Keras"):
        training._deployable(keras_cnn, images)


def test_stack_vote_weighs_the_member_that_helps_and_drops_noise():
    from pipelines.train import _chosen_stacker
    from ser_img.members.heads import stack_features

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 400)
    noise = rng.dirichlet(np.ones(8), 400)
    good = np.full((400, 8), 0.05)
    good[np.arange(400), labels] = 0.65
    good[:80] = noise[:80]  # right on four clips in five
    stacker, weights, _ = _chosen_stacker(stack_features([noise, good]), labels, ONE_CORPUS(400), ALL(400), 2, TrainSettings())
    assert weights[0] == 0 and weights[1] > 0
    # The vote is a weighted geometric mean: with weight 0 the noise member changes nothing.
    only_good = stacker.predict_proba(stack_features([np.full((400, 8), 0.125), good]))
    assert np.allclose(stacker.predict_proba(stack_features([noise, good])), only_good)


def test_stack_probabilities_are_calibrated_on_out_of_fold_predictions():
    """Members that are right 60 % of the time but say 0.99: the vote of two such members
    would be far more confident still; the temperature brings its confidence down to its
    accuracy on the clips it learned from."""
    from pipelines.train import _chosen_stacker
    from ser_img.members.heads import stack_features
    from ser_img.report.metrics import calibration

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 8, 2000)
    members = []
    for _ in range(2):
        said = np.where(rng.random(2000) < 0.6, labels, rng.integers(0, 8, 2000))
        p = np.full((2000, 8), 0.01 / 7)
        p[np.arange(2000), said] = 0.99
        members.append(p)
    features = stack_features(members)
    raw, _, _ = _chosen_stacker(features, labels, ONE_CORPUS(2000), ALL(2000), 2, TrainSettings(calibration="none"))
    calibrated, _, temperature = _chosen_stacker(features, labels, ONE_CORPUS(2000), ALL(2000), 2, TrainSettings())
    assert temperature > 1.5
    assert calibration(labels, raw.predict_proba(features))["ece"] > 0.25
    assert calibration(labels, calibrated.predict_proba(features))["ece"] < 0.05


def test_calibration_learns_only_from_out_of_fold_predictions(stack_model):
    """The saved stack (weights and temperature) is exactly what the out-of-fold
    probabilities alone give, and each fold's stack figure what the other folds' alone give."""
    from pipelines.train import _chosen_stacker
    from ser_img.members.heads import stack_features

    description = json.loads((stack_model / "model.json").read_text())
    oof = np.load(stack_model / "oof.npz", allow_pickle=False)
    members = description["trained_members"]
    features, labels, corpora = stack_features([oof[name] for name in members]), oof["labels"], oof["corpora"]
    settings = TrainSettings()
    stacker, weights, temperature = _chosen_stacker(features, labels, corpora, corpora == corpora[0], len(members), settings)
    assert dict(zip(members, weights)) == description["stack_weights"]
    assert temperature == pytest.approx(description["stack_temperature"])
    # The shipped stacker holds the members with weight only: its matrix is the vote's rows for them.
    kept = [k for k, name in enumerate(members) if description["stack_weights"][name] > 0]
    rows = np.concatenate([np.arange(k * 8, k * 8 + 8) for k in kept])
    assert np.allclose(DenseHead.load(stack_model / "stacker.npz").weights[0], stacker.weights[0][rows])
    for k in range(oof["fold"].max() + 1):
        held_out = oof["fold"] == k
        nested, _, _ = _chosen_stacker(features[~held_out], labels[~held_out], corpora[~held_out],
                                       corpora[~held_out] == corpora[0], len(members), settings)
        assert np.allclose(nested.predict_proba(features[held_out]), oof["stack"][held_out])


def test_model_card_states_figures_and_licence(stack_model):
    card = (stack_model / "MODEL_CARD.md").read_text()
    metrics = json.loads((stack_model / "metrics.json").read_text())
    assert f"| {metrics['overall']['stack']['accuracy']:.3f} |" in card
    assert "SYNTHETIC audio" in card and "Head: `stack`" in card
    assert "CC BY-NC-SA" not in card  # the tiny corpus has RAVDESS names but is synthetic


def test_model_card_describes_the_data_and_the_head_actually_used():
    from ser_img.store.card import model_card

    info = {"name": "m", "n_clips": 90, "speakers": ["ravdess-01", "ravdess-02", "tess-OAF", "savee-DC", "alice"],
            "members": ["cnn", "xgb"],
            "train_settings": {"cnns_per_fold": 2, "cnn": {"channels": [8], "embedding_size": 16, "epochs": 2}}}
    figures = {"accuracy": 0.5, "uar": 0.5, "macro_f1": 0.5, "log_loss": 1.5, "brier": 0.6, "ece": 0.05}
    scores = {"final": "xgb", "folds": [{}, {}], "overall": {name: figures for name in ("cnn", "xgb")}}
    card = model_card(info, scores, ["cnn", "xgb"])
    lines = {line.split(":")[0]: line for line in card.splitlines() if line.startswith("- ")}
    assert lines["- RAVDESS"].startswith("- RAVDESS: 2 speakers (01, 02)") and "CC BY-NC-SA 4.0" in lines["- RAVDESS"]
    assert lines["- TESS"].startswith("- TESS: 1 speaker (OAF)") and "CC BY-NC-ND 4.0" in lines["- TESS"]
    assert "SAVEE: 1 speaker (DC); licence unknown to ser-img: state your data's licence" in card
    assert "Other data, 1 speaker not from a corpus" in card and "Head: `xgb`" in card and "`xgb`: XGBoost on its CNN's embeddings" in card
    assert "weighted geometric mean" not in card  # not the stack
