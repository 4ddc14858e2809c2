"""Does the MLP head need the voice encoder's vector (or the descriptors)? (issue 25: speed)

    PYTHONPATH=. python experiments/mlp_reads.py data/c MODEL

The GE2E encoder costs about 11 ms of a clip's ~46 on one core, and only the MLP head (stack
weight 1) reads it. With MODEL's CNNs kept, each fold's MLP heads are fitted again as
training fits them (the same speaker parts, weights, class masks and seeds) on fewer inputs,
and the stack (MLP and Whisper regression, weights chosen as training chooses them, each
fold's from the other folds) is scored out of fold. The first row refits the MLP on what it
reads now, the baseline the others are compared with: on features rendered again it comes
close to the model's own MLP (58.7 % pooled against 58.8 %) without equalling it clip by clip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.train import _speaker_parts, class_masks, corpus_weights, nested_stack  # noqa: E402
from ser_img.corpus.dataset import load_corpora  # noqa: E402
from ser_img.ensemble.folds import speaker_folds  # noqa: E402
from ser_img.ensemble.settings import TrainSettings  # noqa: E402
from ser_img.features.extractors import feature_blocks  # noqa: E402
from ser_img.members.heads import MlpHead, N_CLASSES, stack_features  # noqa: E402
from ser_img.report.metrics import summary  # noqa: E402
from ser_img.store.load import load_model  # noqa: E402

CORPORA = ("ravdess", "ravdess-mix1", "ravdess-mix2", "nemo", "ased", "spanish", "emovo", "korean")
VARIANTS = {"cnn+desc+enc (as shipped)": ("desc", "enc"), "cnn+desc": ("desc",), "cnn": ()}


def mlp_oof(data, folds, model, reads, settings) -> np.ndarray:
    blocks = feature_blocks(data.settings)
    weights = corpus_weights(data.labels, data.corpora, settings.corpus_weighting, settings.home_share)
    masks = class_masks(data.labels, data.corpora)
    oof = np.zeros((len(data.labels), N_CLASSES))
    for k, (train_idx, test_idx) in enumerate(folds):
        parts = _speaker_parts(train_idx, data.speakers, settings.cnns_per_fold)
        for p, part in enumerate(parts):
            cnn = model.folds[k].cnns[p]
            inputs = lambda rows: np.concatenate([cnn.outputs(data.images[rows])[0]]  # noqa: E731
                                                 + [data.features[rows][:, blocks[b]] for b in reads], axis=1)
            head = MlpHead(seed=settings.seed + k * len(parts) + p).fit(inputs(part), data.labels[part], weights[part],
                                                                        masks[part])
            oof[test_idx] += head.predict_proba(inputs(test_idx)) / len(parts)
        print(f"  fold {k + 1}: {np.mean(oof[test_idx].argmax(1) == data.labels[test_idx]):.3f}", file=sys.stderr,
              flush=True)
    return oof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    settings = TrainSettings()
    data = load_corpora([args.images / name for name in CORPORA])
    folds = speaker_folds(data.speakers, settings.max_folds, data.corpora)
    model = load_model(args.model)
    with np.load(args.model / "oof.npz") as oof:
        whisper, shipped_mlp = oof["whisper"], oof["mlp"]
    ravdess = data.corpora == "ravdess"
    print("| MLP reads | MLP pooled | stack pooled | stack log-loss | stack RAVDESS | stack ECE |\n|---|---|---|---|---|---|")
    for name, reads in VARIANTS.items():
        mlp = mlp_oof(data, folds, model, reads, settings)
        if reads == ("desc", "enc"):
            print(f"  refit against shipped MLP: max difference {np.abs(mlp - shipped_mlp).max():.2g}", file=sys.stderr)
        stack = nested_stack(stack_features([mlp, whisper]), data, folds, 2, settings)
        pooled, home = summary(data.labels, stack), summary(data.labels[ravdess], stack[ravdess])
        print(f"| {name} | {np.mean(mlp.argmax(1) == data.labels):.1%} | {pooled['accuracy']:.2%} | "
              f"{pooled['log_loss']:.3f} | {home['accuracy']:.1%} | {pooled['ece']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
