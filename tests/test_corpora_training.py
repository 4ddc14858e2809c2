"""Training on several corpora: clip lists, folds per corpus, weights, class masks, and
members with no weight left out of the saved model."""

import csv
import json

import numpy as np
import pytest

from ser_img.errors import UsageError
from ser_img.ensemble.folds import speaker_folds
from ser_img.members.heads import LogisticHead
from ser_img.labels import read_clip_list


def test_folds_deal_each_corpus_on_its_own():
    speakers = ["r1", "r2", "r3", "r4", "x1", "x2"]
    corpora = ["ravdess"] * 4 + ["other"] * 2
    folds = speaker_folds(speakers, max_folds=2, corpora=corpora)
    alone = speaker_folds(speakers[:4], max_folds=2)
    for (_, test), (_, test_alone) in zip(folds, alone):
        assert [speakers[i] for i in test if corpora[i] == "ravdess"] == [speakers[i] for i in test_alone]
        assert sum(corpora[i] == "other" for i in test) == 1  # every fold holds a share of each corpus


def test_corpus_weights_balance_classes_within_and_corpora_between():
    from pipelines.train import corpus_weights

    labels = np.array([0, 0, 0, 1, 2, 2, 2, 2, 3, 3])
    corpora = np.array(["a"] * 4 + ["b"] * 6)
    for scheme, ratio in [("clips", 6 / 4), ("equal", 1.0), ("sqrt", np.sqrt(6 / 4))]:
        w = corpus_weights(labels, corpora, scheme)
        assert w.mean() == pytest.approx(1.0)
        assert w[corpora == "b"].sum() / w[corpora == "a"].sum() == pytest.approx(ratio)
        assert w[labels == 0].sum() == pytest.approx(w[labels == 1].sum())  # classes of corpus a


def test_a_corpus_is_evidence_only_about_its_classes():
    """Corpus b has no class 1, and its class-0 clips sound like corpus a's class 1. With
    the mask they cannot teach "this is not class 1": a class-1 clip stays class 1."""
    from pipelines.train import class_masks

    rng = np.random.default_rng(0)
    centres = np.eye(5)[:3] * 3
    labels_a, labels_b = np.repeat([0, 1], 30), np.repeat([0, 2], 100)
    x = np.concatenate([centres[labels_a], centres[[1] * 100 + [2] * 100]]) + rng.normal(size=(260, 5)) * 0.5
    labels = np.concatenate([labels_a, labels_b])
    masks = class_masks(labels, np.array(["a"] * 60 + ["b"] * 200))
    assert masks[0].tolist() == [True, True] + [False] * 6 and masks[-1].tolist() == [True, False, True] + [False] * 5
    masked = LogisticHead(C=0.1).fit(x, labels, class_mask=masks).predict_proba(centres[[1]])[0]
    unmasked = LogisticHead(C=0.1).fit(x, labels).predict_proba(centres[[1]])[0]
    assert masked.argmax() == 1 and masked[1] > 0.75
    assert unmasked[1] < 0.6  # without the mask, corpus b's clips pull it towards class 0


def test_clip_list_reads_labels_and_speakers(tmp_path):
    listing = tmp_path / "labels.csv"
    listing.write_text("path,label,speaker,language\nsub/a.wav,angry,s1,pl\nb.wav,,s2,pl\n")
    listed = read_clip_list(listing)
    a = listed[(tmp_path / "sub" / "a.wav").resolve()]
    assert a[0] == "sub/a.wav" and a[1].label == "angry" and a[1].speaker == "s1"
    assert listed[(tmp_path / "b.wav").resolve()][1].label is None
    listing.write_text("path,label\nx.wav,furious\n")
    with pytest.raises(UsageError, match="line 2: unknown label 'furious'"):
        read_clip_list(listing)
    listing.write_text("file,emotion\nx.wav,angry\n")
    with pytest.raises(UsageError, match="header row with path and label"):
        read_clip_list(listing)


@pytest.fixture(scope="module")
def two_corpora(corpus, tmp_path_factory):
    """The synthetic corpus as two: RAVDESS names in one, a clip list of other speakers
    and only four classes in the other."""
    from pipelines.render import render_folder
    from ser_img.corpus.synth import generate_corpus
    from tests.conftest import TINY_RENDER

    root = tmp_path_factory.mktemp("corpora")
    other = root / "audio"
    generate_corpus(other, actors=[4, 5, 6], sample_rate=16000)
    rows = []
    for path in sorted(other.rglob("*.wav")):
        label = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"][int(path.stem[6:8]) - 1]
        if label in ("neutral", "happy", "sad", "angry"):
            rows.append([path.relative_to(other).as_posix(), label, f"other{path.stem[-2:]}"])
    with open(other / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["path", "label", "speaker"], *rows])
    render_folder([corpus], root / "first", TINY_RENDER, workers=1)
    report = render_folder([other / "labels.csv"], root / "second", TINY_RENDER, workers=1)
    assert report.rendered == len(rows) and {r.label for r in report.rows} == {"neutral", "happy", "sad", "angry"}
    assert {r.speaker for r in report.rows} == {"other04", "other05", "other06"}
    return root / "first", root / "second"


def test_training_on_two_corpora_reports_each_and_ships_weighted_members(two_corpora, tmp_path):
    from dataclasses import replace

    from pipelines.train import train
    from ser_img.store.load import load_model
    from tests.conftest import TINY_TRAIN

    settings = replace(TINY_TRAIN, members=("desc", "smile", "enc"))
    report = train(list(two_corpora), "stack", tmp_path / "m", settings)
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    assert description["corpora"]["second"]["classes"] == ["neutral", "happy", "sad", "angry"]
    assert description["corpora"]["first"]["speakers"] == 3 and description["cnns_per_fold"] == 0
    assert set(report.metrics["corpora"]) == {"first", "second"}
    weights = description["stack_weights"]
    assert description["members"] == [m for m in description["trained_members"] if weights[m] > 0]
    files = set(json.loads((tmp_path / "m" / "manifest.json").read_text())["files"])
    assert not any(f.startswith("cnn_") for f in files)  # no member reads a CNN: none is trained or shipped
    for name, weight in weights.items():
        assert any(f.startswith(f"{name}_") for f in files) == (weight > 0)
    model = load_model(tmp_path / "m")
    probabilities = model.predict_proba(np.zeros((2, 32, 32, 3), np.uint8), np.zeros((2, 724 + 6373 + 512), np.float32))
    assert probabilities.shape == (2, 8) and np.allclose(probabilities.sum(1), 1.0)
    assert "SYNTHETIC" in (tmp_path / "m" / "MODEL_CARD.md").read_text()


def test_model_card_lists_every_corpus_with_its_terms():
    from ser_img.store.card import data_lines, weights_licence

    corpora = {"ravdess": {"clips": 10, "speakers": 2, "classes": ["neutral", "calm"]},
               "nemo": {"clips": 5, "speakers": 1, "classes": ["angry"]},
               "mine": {"clips": 3, "speakers": 1, "classes": ["sad"]}}
    lines = data_lines(["ravdess-01", "ravdess-02", "nemoA", "x"], 18, False, corpora)
    assert "18 clips from 4 speakers of 3 corpora" in lines[0] and "non-commercial" in lines[0]
    assert lines[1].startswith("- RAVDESS: 10 clips, 2 speakers, classes neutral, calm; Livingstone")
    assert lines[2].startswith("- nEMO (Polish): 5 clips, 1 speaker, classes angry") and "CC BY-NC-SA" in lines[2]
    assert lines[3].startswith("- `mine`: 3 clips") and "state your data's licence" in lines[3]
    licence = weights_licence([], None, corpora)
    assert "CC BY-NC-SA 4.0 (nEMO (Polish))" in licence and "licence unknown" in licence


def test_image_folders_must_be_rendered_alike(two_corpora, tmp_path):
    from pipelines.render import render_folder
    from pipelines.train import train
    from ser_img.features.spectrogram import RenderSettings

    first, second = two_corpora
    render_folder([second / ".." / "audio" / "labels.csv"], tmp_path / "third", RenderSettings(height=16, width=16,
                  n_mels=16, window_s=2.0, functionals="", encoder_layer=0), workers=1)
    with pytest.raises(UsageError, match="rendered with other settings"):
        train([first, tmp_path / "third"], "stack", tmp_path / "m")


def test_temperature_is_fitted_on_the_home_speakers_alone():
    """Fitted on every corpus, the temperature learns how sure the model may be where it has
    heard the corpus; fitted on the home speakers (and their copies) it is the home corpus's."""
    from pipelines.train import _chosen_stacker
    from ser_img.ensemble.settings import TrainSettings
    from ser_img.members.heads import stack_features
    from ser_img.report.metrics import fit_temperature

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 400)
    logits = rng.normal(0, 1, (400, 8))
    logits[np.arange(400), labels] += np.where(np.arange(400) < 200, 3.0, 0.5)  # home: more often right
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    features, corpora = stack_features([probs]), np.array(["home"] * 200 + ["other"] * 200)
    home = corpora == "home"
    _, _, on_home = _chosen_stacker(features, labels, corpora, home, 1, TrainSettings())
    _, _, on_all = _chosen_stacker(features, labels, corpora, np.ones(400, bool), 1, TrainSettings())
    assert on_home == pytest.approx(fit_temperature(features[home], labels[home]))
    assert abs(on_home - on_all) > 0.05
