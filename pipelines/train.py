"""Train a model with speaker-grouped out-of-fold stacking, and report its CV figures.

For each speaker-grouped fold K, the other folds' speakers are split in two: the
CNN learns from most of them; the heads learn from that CNN's embeddings of the rest
(`head_share`), clips it never saw. Heads must learn from their own CNN's embeddings:
separately trained CNNs have embedding spaces that do not line up, so heads fit on one
CNN's out-of-fold embeddings fail on another's. CNN and heads then score fold K, so
every clip gets out-of-fold probabilities from every member. The stacker learns from
those, and its own figures come from a second pass over the same folds.

The saved model keeps each fold's CNN and heads; a new clip goes through all of them,
the stacker combines each fold's members, and the folds' results are averaged.
"""

from __future__ import annotations

import io
import itertools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ser_img import metrics
from ser_img.card import model_card
from ser_img.dataset import LabelledImages, load_labelled_images
from ser_img.errors import ModelError, UsageError
from ser_img.folds import check_speakers, speaker_folds
from ser_img.heads import HEADS, N_CLASSES, DenseHead, balanced_weights, head_features, stack_features, weighted_vote
from ser_img.lite import LiteCnn
from ser_img.model import HEAD_MEMBERS, MEMBERS, EmotionModel, save_model
from ser_img.settings import TrainSettings
from ser_img.spectrogram import encode_png

from . import Progress, no_progress

log = logging.getLogger("ser_img")
STACK_WEIGHTS = (0, 1, 2)  # weights the stacker may give each member
LITE_TOLERANCE = 1e-4  # largest difference in any probability between LiteRT and Keras


@dataclass
class TrainReport:
    model_dir: Path
    head: str
    metrics: dict
    seconds: float


def default_model_dir(head: str, artifacts: Path = Path("artifacts")) -> Path:
    return artifacts / f"{head}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def train(images_dir: Path, head: str = "stack", out_dir: Path | None = None,
          settings: TrainSettings = TrainSettings(), force: bool = False,
          progress: Progress = no_progress) -> TrainReport:
    if head not in HEAD_MEMBERS:
        raise UsageError(f"unknown head {head!r}; choose from {', '.join(HEAD_MEMBERS)}")
    out_dir = Path(out_dir) if out_dir else default_model_dir(head)
    if out_dir.exists() and not force:
        raise UsageError(f"{out_dir}: already exists (choose another --out or pass --force)")
    started = time.perf_counter()
    data = load_labelled_images(images_dir)
    check_speakers(data.speakers, head)
    folds = speaker_folds(data.speakers, settings.max_folds)
    log.info("training on %d clips from %d speakers in %d speaker-grouped folds%s", len(data.labels),
             len(set(data.speakers)), len(folds),
             f" ({data.unlabelled} unlabelled clips left out)" if data.unlabelled else "")

    cnns, heads, oof = _fold_pipelines(data, folds, HEAD_MEMBERS[head], settings, progress)
    stacker, stack_weights = None, {}
    if head == "stack":
        features = stack_features(list(oof.values()))
        oof["stack"] = np.zeros((len(data.labels), N_CLASSES))
        for train_idx, test_idx in folds:
            fold_stacker, _ = _chosen_stacker(features[train_idx], data.labels[train_idx], len(oof) - 1)
            oof["stack"][test_idx] = fold_stacker.predict_proba(features[test_idx])
        stacker, weights = _chosen_stacker(features, data.labels, len(oof) - 1)
        stack_weights = dict(zip(list(oof)[:-1], weights))

    final = "stack" if head == "stack" else head
    scores = _scores(oof, data, folds, final)
    seconds = time.perf_counter() - started
    scores["train_seconds"] = round(seconds, 1)
    info = {"name": out_dir.name, "train_settings": settings.to_dict(), "n_clips": int(len(data.labels)),
            "speakers": sorted(set(data.speakers)), "cv": scores["overall"][final],
            **({"stack_weights": stack_weights} if stack_weights else {})}
    model = EmotionModel(head=head, render_settings=data.settings, cnns=cnns, heads=heads, stacker=stacker,
                         info=info)
    picture = metrics.confusion_png(scores["confusion_matrix"], f"{final}: speaker-grouped CV, accuracy "
                                                                f"{scores['overall'][final]['accuracy']:.1%}")
    card = model_card(info, scores, [name for name in MEMBERS if name in oof], [r.source for r in data.rows])
    reports = {"confusion.png": encode_png(picture), "oof.npz": _oof_archive(oof, data, folds),
               "MODEL_CARD.md": card.encode("utf-8")}
    save_model(model, out_dir, scores, reports, replace=force)
    return TrainReport(model_dir=out_dir, head=head, metrics=scores, seconds=seconds)


def _fold_pipelines(data: LabelledImages, folds, head_names: list[str], settings: TrainSettings,
                    progress: Progress):
    from ser_img.cnn import train_cnn

    oof = {name: np.zeros((len(data.labels), N_CLASSES)) for name in ["cnn", *head_names]}
    cnns, heads = [], []
    for k in progress(range(len(folds)), len(folds), "training fold models"):
        train_idx, test_idx = folds[k]
        cnn_idx, head_idx = _split_for_heads(train_idx, data.speakers, settings) if head_names else (train_idx, [])
        keras_cnn = train_cnn(data.images[cnn_idx], data.labels[cnn_idx], N_CLASSES, settings.cnn,
                              seed=settings.seed + k, sample_weight=balanced_weights(data.labels[cnn_idx]))
        cnn = _deployable(keras_cnn, data.images[test_idx])
        test_embeddings, oof["cnn"][test_idx] = cnn.outputs(data.images[test_idx])
        fold_heads = {}
        if head_names:
            head_embeddings, _ = cnn.outputs(data.images[head_idx])
            for name in head_names:
                # The descriptor head has no CNN in it, so it may learn from every training speaker.
                rows, embeddings = (train_idx, None) if name == "desc" else (head_idx, head_embeddings)
                features = head_features(name, embeddings, data.descriptors[rows])
                fold_heads[name] = HEADS[name].fit(features, data.labels[rows], settings.seed + k)
                oof[name][test_idx] = fold_heads[name].predict_proba(
                    head_features(name, test_embeddings, data.descriptors[test_idx]))
        cnns.append(cnn)
        heads.append(fold_heads)
        log.info("fold %d/%d (%d held-out clips): %s", k + 1, len(folds), len(test_idx), ", ".join(
            f"{name} {np.mean(p[test_idx].argmax(1) == data.labels[test_idx]):.3f}" for name, p in oof.items()))
    return cnns, heads, oof


def _deployable(keras_cnn, images: np.ndarray) -> LiteCnn:
    """The CNN as the saved model will run it (LiteRT), checked against Keras on `images`.

    The figures are computed with this runtime, so they are the shipped model's figures.
    """
    from ser_img.cnn import cnn_outputs, to_tflite

    lite = LiteCnn(to_tflite(keras_cnn), N_CLASSES)
    sample = images[:64]
    gap = np.abs(lite.outputs(sample)[1] - cnn_outputs(keras_cnn, sample)[1]).max(initial=0.0)
    if gap > LITE_TOLERANCE:
        raise ModelError(f"the TensorFlow Lite CNN differs from Keras by {gap:.2g} (more than {LITE_TOLERANCE})")
    return lite


def _split_for_heads(train_idx: np.ndarray, speakers: list[str], settings: TrainSettings):
    """(CNN clips, head clips) of a fold's training clips, split by speaker."""
    fold_speakers = [speakers[i] for i in train_idx]
    if len(set(fold_speakers)) < 2:
        raise UsageError("heads need at least 3 speakers (one held out, one for the CNN, one for the "
                         "heads' training); use --head cnn with 2")
    inner = speaker_folds(fold_speakers, max_folds=max(2, round(1 / settings.head_share)))
    cnn_part, head_part = inner[0]
    return train_idx[cnn_part], train_idx[head_part]


def _chosen_stacker(features: np.ndarray, labels: np.ndarray, n_members: int) -> tuple[DenseHead, tuple]:
    """A weighted geometric vote of the members, weights chosen on these out-of-fold clips.

    A logistic-regression stacker over 8 x members log-probabilities overfits folds of a few
    speakers (it scored below its best member); a vote with a few integer weights per
    member has almost nothing to overfit, and may drop a member by giving it weight 0.
    """
    per_member = features.reshape(len(features), n_members, N_CLASSES)
    candidates = [w for w in itertools.product(STACK_WEIGHTS, repeat=n_members) if sum(w) > 0]
    scores = [np.mean(np.einsum("m,nmc->nc", np.array(w, float), per_member).argmax(1) == labels)
              for w in candidates]
    best = candidates[int(np.argmax(scores))]  # ties: the first in itertools.product order
    return weighted_vote(best), best


def _oof_archive(oof: dict[str, np.ndarray], data: LabelledImages, folds) -> bytes:
    """Every member's out-of-fold probabilities, with labels and folds, for later analysis."""
    fold_of = np.zeros(len(data.labels), np.int64)
    for k, (_, test_idx) in enumerate(folds):
        fold_of[test_idx] = k
    buffer = io.BytesIO()
    np.savez(buffer, labels=data.labels, fold=fold_of, speakers=np.array(data.speakers),
             images=np.array([r.image for r in data.rows]), **oof)
    return buffer.getvalue()


def _scores(oof: dict[str, np.ndarray], data: LabelledImages, folds, final: str) -> dict:
    speakers = np.array(data.speakers)
    per_fold = []
    for k, (_, test_idx) in enumerate(folds):
        per_fold.append({
            "fold": k + 1,
            "test_speakers": sorted(set(speakers[test_idx])),
            **{name: metrics.summary(data.labels[test_idx], p[test_idx].argmax(1)) for name, p in oof.items()},
        })
    overall = {name: metrics.summary(data.labels, p.argmax(1)) for name, p in oof.items()}
    spread = {
        name: {"accuracy_std": float(np.std([f[name]["accuracy"] for f in per_fold]))} for name in oof
    }
    full = metrics.report(data.labels, oof[final].argmax(1))
    return {"final": final, "folds": per_fold, "overall": overall, "fold_spread": spread,
            "per_class": full["per_class"], "confusion_matrix": full["confusion_matrix"],
            "labels": full["labels"]}

