"""Train a model with speaker-grouped out-of-fold stacking, and report its CV figures.

For each speaker-grouped fold K, the other folds' speakers are split into parts of whole
speakers (`cnns_per_fold`, 2 by default). For each part, a CNN learns from the other parts
and the MLP, XGBoost and LightGBM heads learn from that CNN's embeddings of the part it
never heard (cross-fitting): every training speaker reaches the heads, and no head learns
from a network that saw its clips. Heads stay paired with their own CNN: separately
trained CNNs have embedding spaces that do not line up. The logistic regressions on the
descriptors and on the openSMILE functionals have no CNN in them and learn from every
training speaker. Fold K's CNNs (averaged) and members then score fold K, so every clip
gets out-of-fold probabilities from every member; the stack and its calibration learn
from those only, and the stack's own figures come from a second, nested pass.

The saved model keeps each fold's CNNs and members; a new clip goes through all of them,
the stack combines each fold's members, and the folds' results are averaged.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ser_img.report import metrics
from ser_img.store.card import model_card
from ser_img.corpus.dataset import LabelledImages, load_corpora
from ser_img.errors import ModelError, UsageError
from ser_img.ensemble.folds import check_speakers, speaker_folds
from ser_img.features.extractors import feature_blocks
from ser_img.members.heads import N_CLASSES, DenseHead, balanced_weights, stack_features, weighted_vote
from ser_img.runtime.lite import LiteCnn
from ser_img.members.registry import CNN, HEADS, MEMBER_ORDER, REGISTRY, members_for, needs_cnn
from ser_img.report.metrics import fit_temperature
from ser_img.ensemble.model import EmotionModel, FoldModel
from ser_img.store.save import save_model
from ser_img.labels import EMOTIONS
from ser_img.ensemble.settings import TrainSettings
from ser_img.features.spectrogram import encode_png

from . import Progress, no_progress
from .keep_cnns import kept_folds, kept_probabilities

log = logging.getLogger("ser_img")
LITE_TOLERANCE = 1e-4  # largest difference in any probability between LiteRT and Keras


@dataclass
class TrainReport:
    model_dir: Path
    head: str
    metrics: dict
    seconds: float


def default_model_dir(head: str, artifacts: Path = Path("artifacts")) -> Path:
    return artifacts / f"{head}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def train(images_dirs, head: str = "stack", out_dir: Path | None = None,
          settings: TrainSettings = TrainSettings(), force: bool = False,
          progress: Progress = no_progress, keep_cnns: Path | None = None) -> TrainReport:
    """Train on one rendered folder or several (one corpus each, named after its folder);
    `keep_cnns`: a model trained on the same folders whose CNNs, and heads on them, are kept
    (pipelines.keep_cnns)."""
    if head not in HEADS:
        raise UsageError(f"unknown head {head!r}; choose from {', '.join(HEADS)}")
    images_dirs = [images_dirs] if isinstance(images_dirs, (str, Path)) else list(images_dirs)
    out_dir = Path(out_dir) if out_dir else default_model_dir(head)
    if out_dir.exists() and not force:
        raise UsageError(f"{out_dir}: already exists (choose another --out or pass --force)")
    started = time.perf_counter()
    data = load_corpora(images_dirs, with_images=needs_cnn(settings.members if head == "stack" else (head,)))
    check_speakers(data.speakers, head)
    folds = speaker_folds(data.speakers, settings.max_folds, data.corpora)
    corpora = len(set(data.corpora))
    log.info("training on %d clips from %d speakers%s in %d speaker-grouped folds%s", len(data.labels),
             len(set(data.speakers)), f" of {corpora} corpora" if corpora > 1 else "", len(folds),
             f" ({data.unlabelled} unlabelled clips left out)" if data.unlabelled else "")

    members = members_for(head, feature_blocks(data.settings), settings.members)
    kept, donor = None, {}
    if keep_cnns:
        kept, settings, name = kept_folds(keep_cnns, data, folds, members, settings)
        donor = {"cnns_from": name}
    fold_models, oof = _fold_pipelines(data, folds, members, settings, progress, kept)
    stacker, stack_weights, temperature = None, {}, None
    if head == "stack":
        features = stack_features(list(oof.values()))
        oof["stack"] = nested_stack(features, data, folds, len(members), settings)
        _, weights, temperature = _chosen_stacker(features, data.labels, data.corpora, home_rows(data), len(members),
                                                  settings)
        stack_weights = dict(zip(members, weights))
        fold_models, kept = _weighted_only(fold_models, stack_weights)
        stacker = weighted_vote(np.array([stack_weights[m] for m in kept], float) / sum(weights) / temperature)
    else:
        kept = members

    final = "stack" if head == "stack" else head
    scores = _scores(oof, data, folds, final)
    seconds = time.perf_counter() - started
    scores["train_seconds"] = round(seconds, 1)
    info = {"name": out_dir.name, "train_settings": settings.to_dict(), "n_clips": int(len(data.labels)),
            "speakers": sorted(set(data.speakers)), "corpora": _corpus_summary(data), "home_corpus": str(data.corpora[0]), "cv": scores["overall"][final],
            "members": kept, "trained_members": members, **donor,
            **({"stack_weights": stack_weights, "stack_temperature": temperature} if stack_weights else {})}
    rendering = _slim_settings(data.settings, kept)
    model = EmotionModel(head=head, render_settings=rendering, folds=fold_models, stacker=stacker, info=info)
    picture = metrics.confusion_png(scores["confusion_matrix"], f"{final}: speaker-grouped CV, accuracy "
                                                                f"{scores['overall'][final]['accuracy']:.1%}")
    reliability = metrics.reliability_png(data.labels, oof[final], f"{final}: reliability (speaker-grouped CV)")
    card = model_card({**info, "render_settings": rendering.to_dict()}, scores,
                      [name for name in MEMBER_ORDER if name in oof], [r.source for r in data.rows])
    reports = {"confusion.png": encode_png(picture), "reliability.png": encode_png(reliability),
               "oof.npz": _oof_archive(oof, data, folds), "MODEL_CARD.md": card.encode("utf-8")}
    save_model(model, out_dir, scores, reports, replace=force)
    return TrainReport(model_dir=out_dir, head=head, metrics=scores, seconds=seconds)


def _slim_settings(settings, kept: list[str]):
    """The render settings without the extractors no kept member reads: prediction does not
    compute them (the feature blocks of the others are found by name, not position)."""
    reads = {block for name in kept if name != CNN for block in REGISTRY[name].reads}
    return dataclasses.replace(settings, functionals=settings.functionals if "smile" in reads else "",
                               encoder_layer=settings.encoder_layer if "enc" in reads else 0,
                               whisper_blocks=settings.whisper_blocks if "whisper" in reads else ())


def _corpus_summary(data: LabelledImages) -> dict:
    """Per corpus: clips, speakers and the classes it has (it is evidence about those only)."""
    out = {}
    for name in dict.fromkeys(data.corpora):
        rows = data.corpora == name
        out[str(name)] = {"clips": int(rows.sum()), "speakers": len({s for s, r in zip(data.speakers, rows) if r}),
                          "classes": [EMOTIONS[c] for c in sorted(set(data.labels[rows]))]}
    return out


def corpus_weights(labels: np.ndarray, corpora: np.ndarray, scheme: str, home_share: float = 0.0) -> np.ndarray:
    """Per-clip training weights: every class of a corpus has the same total weight within it,
    then each corpus's total is its clip count, equal, or the square root of its clip count
    (TrainSettings.corpus_weighting); the home corpus (the first) then takes `home_share` of
    the whole when there are others. The mean weight is 1."""
    weights = np.zeros(len(labels))
    names = list(dict.fromkeys(corpora))
    for name in names:
        rows = corpora == name
        total = {"clips": rows.sum(), "equal": 1.0, "sqrt": np.sqrt(rows.sum())}[scheme]
        within = balanced_weights(labels[rows])
        weights[rows] = within / within.sum() * total
    home = corpora == names[0]
    if home_share and len(names) > 1:
        weights[home] *= home_share / (1 - home_share) * weights[~home].sum() / weights[home].sum()
    return weights * len(labels) / weights.sum()


def class_masks(labels: np.ndarray, corpora: np.ndarray) -> np.ndarray:
    """(n, 8): the classes each clip's corpus has; a corpus is evidence about those only."""
    masks = np.zeros((len(labels), N_CLASSES), bool)
    for name in set(corpora):
        rows = corpora == name
        masks[np.ix_(rows, np.unique(labels[rows]))] = True
    return masks


def _fold_pipelines(data: LabelledImages, folds, members: list[str], settings: TrainSettings,
                    progress: Progress, kept: list[FoldModel] | None = None
                    ) -> tuple[list[FoldModel], dict[str, np.ndarray]]:
    """Each fold's CNNs and members, and every member's out-of-fold probabilities.

    The fold's training speakers are split into `cnns_per_fold` parts; for each part a CNN
    learns from the other parts, and the embedding heads learn from that CNN's embeddings
    of the part it never heard (cross-fitting). The fold's CNN and each embedding head are
    the average over its parts. Members without a CNN in them learn from every training
    speaker directly. Every member sees the corpus weights and class masks. `kept`: each
    fold's CNNs and heads from a model already trained, used as they are.
    """
    oof = {name: np.zeros((len(data.labels), N_CLASSES)) for name in members}
    weights = corpus_weights(data.labels, data.corpora, settings.corpus_weighting, settings.home_share)
    masks = class_masks(data.labels, data.corpora)
    n_parts = settings.cnns_per_fold if CNN in members and not kept else 1
    fold_models: list[FoldModel] = []
    for step in progress(range(len(folds) * n_parts), len(folds) * n_parts, "training fold models"):
        k, p = divmod(step, n_parts)
        train_idx, test_idx = folds[k]
        if p == 0:
            fold_models.append(kept[k] if kept else FoldModel())
        if kept:
            for name, probs in kept_probabilities(kept[k], data, test_idx, members).items():
                oof[name][test_idx] = probs
        elif CNN in members:
            if p == 0:
                parts = _speaker_parts(train_idx, data.speakers, n_parts)
            _fit_cnn_part(fold_models[-1], data, parts, p, test_idx, members, settings, settings.seed + step,
                          weights, masks, oof)
        if p == n_parts - 1:
            _fit_plain_members(fold_models[-1], data, train_idx, test_idx, members, settings, settings.seed + k,
                               weights, masks, oof)
            log.info("fold %d/%d (%d held-out clips): %s", k + 1, len(folds), len(test_idx), ", ".join(
                f"{name} {np.mean(pr[test_idx].argmax(1) == data.labels[test_idx]):.3f}" for name, pr in oof.items()))
    return fold_models, oof


def _fit_cnn_part(fold: FoldModel, data: LabelledImages, parts, p: int, test_idx, members, settings: TrainSettings,
                  seed: int, weights, masks, oof: dict) -> None:
    """CNN `p` of a fold learns from the other parts (of the home corpus alone, by default:
    `cnn_corpora`); its heads learn from its embeddings of part `p`, every corpus."""
    n_parts, part = len(parts), parts[p]
    blocks = feature_blocks(data.settings)
    cnn_rows = np.concatenate([other for q, other in enumerate(parts) if q != p])
    if settings.cnn_corpora == "home":
        cnn_rows = cnn_rows[home_rows(data)[cnn_rows]]
    cnn = _deployable(_train_cnn(data, cnn_rows, settings, seed, weights[cnn_rows]), data.images[test_idx])
    test_embeddings, test_probs = cnn.outputs(data.images[test_idx])
    oof[CNN][test_idx] += test_probs / n_parts
    part_embeddings, _ = cnn.outputs(data.images[part])
    heads = {}
    for name in (m for m in members if m != CNN and REGISTRY[m].with_cnn):
        spec = REGISTRY[name]
        heads[name] = spec.build(settings.member_params.get(name), seed).fit(
            spec.inputs(part_embeddings, data.features[part], blocks), data.labels[part], weights[part], masks[part])
        oof[name][test_idx] += heads[name].predict_proba(
            spec.inputs(test_embeddings, data.features[test_idx], blocks)) / n_parts
    fold.cnns.append(cnn)
    fold.heads.append(heads)


def home_rows(data: LabelledImages) -> np.ndarray:
    """Per clip, whether its speaker is one of the home corpus's (the first folder): the home
    corpus and its copies through simulated channels or conditions."""
    home = set(np.array(data.speakers)[data.corpora == data.corpora[0]])
    return np.array([speaker in home for speaker in data.speakers])


def _train_cnn(data: LabelledImages, rows: np.ndarray, settings: TrainSettings, seed: int, weights: np.ndarray):
    from ser_img.members.cnn import train_cnn

    return train_cnn(data.images[rows], data.labels[rows], N_CLASSES, settings.cnn, seed=seed,
                     sample_weight=weights)


def _fit_plain_members(fold: FoldModel, data: LabelledImages, train_idx, test_idx, members, settings: TrainSettings,
                       seed: int, weights, masks, oof: dict) -> None:
    """Members with no CNN in them learn from every training speaker of the fold."""
    blocks = feature_blocks(data.settings)
    for name in (m for m in members if m != CNN and not REGISTRY[m].with_cnn):
        spec = REGISTRY[name]
        fold.plain[name] = spec.build(settings.member_params.get(name), seed).fit(
            spec.inputs(None, data.features[train_idx], blocks), data.labels[train_idx], weights[train_idx],
            masks[train_idx])
        oof[name][test_idx] = fold.plain[name].predict_proba(spec.inputs(None, data.features[test_idx], blocks))


def _weighted_only(fold_models: list[FoldModel], stack_weights: dict) -> tuple[list[FoldModel], list[str]]:
    """The fold models without the members the stack gives weight 0 (they are not shipped),
    and without CNNs when neither the CNN nor a head on it has weight."""
    kept = [name for name, weight in stack_weights.items() if weight > 0]
    keep_cnns = needs_cnn(kept)
    slim = [FoldModel(cnns=fold.cnns if keep_cnns else [],
                      heads=[{n: h for n, h in heads.items() if n in kept} for heads in fold.heads] if keep_cnns else [],
                      plain={n: m for n, m in fold.plain.items() if n in kept}) for fold in fold_models]
    return slim, kept


def _deployable(keras_cnn, images: np.ndarray) -> LiteCnn:
    """The CNN as the saved model will run it (LiteRT), checked against Keras on `images`.

    The figures are computed with this runtime, so they are the shipped model's figures.
    """
    from ser_img.members.cnn import cnn_outputs, to_tflite

    lite = LiteCnn(to_tflite(keras_cnn), N_CLASSES)
    sample = images[:64]
    gap = np.abs(lite.outputs(sample)[1] - cnn_outputs(keras_cnn, sample)[1]).max(initial=0.0)
    if gap > LITE_TOLERANCE:
        raise ModelError(f"the TensorFlow Lite CNN differs from Keras by {gap:.2g} (more than {LITE_TOLERANCE})")
    return lite


def _speaker_parts(train_idx: np.ndarray, speakers: list[str], n_parts: int) -> list[np.ndarray]:
    """A fold's training clips in `n_parts` groups of whole speakers."""
    fold_speakers = [speakers[i] for i in train_idx]
    if len(set(fold_speakers)) < n_parts:
        raise UsageError(f"training needs at least {n_parts + 1} speakers (one held out per fold, and "
                         f"{n_parts} more to cross-fit the CNNs and their heads)")
    return [train_idx[test] for _, test in speaker_folds(fold_speakers, max_folds=n_parts)]


def nested_stack(features: np.ndarray, data: LabelledImages, folds, n_members: int,
                 settings: TrainSettings) -> np.ndarray:
    """The stack's own out-of-fold probabilities (`features`: the members' out-of-fold ones,
    side by side): each fold's clips combined by a stack chosen on the other folds only."""
    home = home_rows(data)
    out = np.zeros((len(data.labels), N_CLASSES))
    for train_idx, test_idx in folds:
        stacker, _, _ = _chosen_stacker(features[train_idx], data.labels[train_idx], data.corpora[train_idx],
                                        home[train_idx], n_members, settings)
        out[test_idx] = stacker.predict_proba(features[test_idx])
    return out


def _chosen_stacker(features: np.ndarray, labels: np.ndarray, corpora: np.ndarray, home: np.ndarray,
                    n_members: int, settings: TrainSettings) -> tuple[DenseHead, tuple, float]:
    """A calibrated weighted geometric vote of the members, learned on these out-of-fold clips.

    The integer weights that score best are chosen first (a logistic-regression stacker over
    8 x members log-probabilities overfits folds of a few speakers; a vote with a few integer
    weights has almost nothing to overfit, and may drop a member with weight 0). They are
    then normalised to sum to 1, a weighted geometric mean, and divided by the temperature
    that minimises the log-loss on the same clips of the home corpus's speakers (`home`: its
    clips and their copies under simulated conditions): its output is a probability. Fitted
    on every corpus instead, the temperature learns how sure the model may be on corpora it
    has heard, and is over-confident on the ones it has not. With several corpora, the
    weights are chosen for `stack_score`: the home corpus and the others each count,
    whatever their sizes.
    """
    per_member = features.reshape(len(features), n_members, N_CLASSES)
    candidates = [w for w in itertools.product(settings.stack_weights, repeat=n_members) if sum(w) > 0]
    scores = [stack_score(np.einsum("m,nmc->nc", np.array(w, float), per_member).argmax(1) == labels, corpora,
                          settings.home_share) for w in candidates]
    best = candidates[int(np.argmax(scores))]  # ties: the first in itertools.product order
    normalised = np.array(best, float) / sum(best)
    mean_logits = np.einsum("m,nmc->nc", normalised, per_member)
    temperature = fit_temperature(mean_logits[home], labels[home]) if settings.calibration == "temperature" else 1.0
    return weighted_vote(normalised / temperature), best, temperature


def stack_score(right: np.ndarray, corpora: np.ndarray, home_share: float) -> float:
    """What the stack's weights are chosen for: accuracy on one corpus; with several,
    `home_share` x the home corpus's accuracy + the rest x the mean of the other corpora's
    (each counting the same), so that adding corpora can never be paid for by the home
    corpus unseen, nor the others by it (0: every corpus counts the same)."""
    names = list(dict.fromkeys(corpora))
    accuracy = [right[corpora == name].mean() for name in names]
    if len(names) == 1:
        return float(accuracy[0])
    if not home_share:
        return float(np.mean(accuracy))
    return float(home_share * accuracy[0] + (1 - home_share) * np.mean(accuracy[1:]))


def _oof_archive(oof: dict[str, np.ndarray], data: LabelledImages, folds) -> bytes:
    """Every member's out-of-fold probabilities, with labels and folds, for later analysis."""
    fold_of = np.zeros(len(data.labels), np.int64)
    for k, (_, test_idx) in enumerate(folds):
        fold_of[test_idx] = k
    buffer = io.BytesIO()
    np.savez(buffer, labels=data.labels, fold=fold_of, speakers=np.array(data.speakers),
             images=np.array([r.image for r in data.rows]), corpora=np.asarray(data.corpora, dtype=str), **oof)
    return buffer.getvalue()


def _scores(oof: dict[str, np.ndarray], data: LabelledImages, folds, final: str) -> dict:
    speakers = np.array(data.speakers)
    per_fold = []
    for k, (_, test_idx) in enumerate(folds):
        per_fold.append({
            "fold": k + 1,
            "test_speakers": sorted(set(speakers[test_idx])),
            **{name: metrics.summary(data.labels[test_idx], p[test_idx]) for name, p in oof.items()},
        })
    overall = {name: metrics.summary(data.labels, p) for name, p in oof.items()}
    spread = {
        name: {"accuracy_std": float(np.std([f[name]["accuracy"] for f in per_fold]))} for name in oof
    }
    full = metrics.report(data.labels, oof[final].argmax(1))
    by_corpus = {str(c): {name: metrics.summary(data.labels[data.corpora == c], p[data.corpora == c])
                          for name, p in oof.items()} for c in dict.fromkeys(data.corpora)}
    return {"final": final, "folds": per_fold, "overall": overall, "fold_spread": spread,
            **({"corpora": by_corpus} if len(by_corpus) > 1 else {}),
            "per_class": full["per_class"], "confusion_matrix": full["confusion_matrix"],
            "labels": full["labels"], "reliability": metrics.reliability(data.labels, oof[final])}
