"""What makes a held-out corpus collapse onto one class, and what removes it (issue 23, item 3).

    PYTHONPATH=. python experiments/loco_normalisation.py data/c [--features whisper] [--stats-clips 0,5,10]

A plain probe on the rendered folders' cached feature vectors (`ser-img render`; RAVDESS and
the five corpora of ../shared, no copies under conditions): standardise, then a logistic
regression weighted as `ser-img train` weighs corpora (classes equal within a corpus, a corpus
the square root of its clips), trained on every corpus but one and scored on that one, the
decision restricted to its classes. Three ways to standardise:

  global   one mean and deviation over all training clips (what the shipped model does)
  corpus   each corpus by its own statistics (the held-out one by its own, unlabelled)
  speaker  each speaker by their own: from `--stats-clips` K of their own clips drawn at
           random (all of them for 0; RAVDESS's speakers, never held out, always all)

If a per-speaker or per-corpus offset in the feature space (voice, room, microphone,
language) is what pushes a whole corpus onto one class, removing that offset removes the
collapse. Prints accuracy and the largest predicted-class share per corpus; `--json` keeps them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.corpus.dataset import load_labelled_images  # noqa: E402
from ser_img.features.extractors import feature_blocks  # noqa: E402

CORPORA = ("ravdess", "nemo", "ased", "spanish", "emovo", "korean")


def load(root: Path, blocks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features (the named blocks), labels, corpus and speaker of every clip."""
    features, labels, corpora, speakers = [], [], [], []
    for corpus in CORPORA:
        data = load_labelled_images(root / corpus, with_images=False)
        columns = feature_blocks(data.settings)
        features.append(np.concatenate([data.features[:, columns[b]] for b in blocks], axis=1))
        labels.append(data.labels)
        corpora += [corpus] * len(data.labels)
        speakers += [f"{corpus}:{s}" for s in data.speakers]
    return np.concatenate(features), np.concatenate(labels), np.array(corpora), np.array(speakers)


def standardised(x: np.ndarray, groups: np.ndarray, stats_rows: np.ndarray) -> np.ndarray:
    """Each group's rows less its mean, over its deviation, both from its rows in `stats_rows`."""
    out = np.empty_like(x)
    for group in np.unique(groups):
        rows = groups == group
        basis = x[rows & stats_rows]
        out[rows] = (x[rows] - basis.mean(0)) / (basis.std(0) + 1e-6)
    return out


def corpus_weights(labels: np.ndarray, corpora: np.ndarray) -> np.ndarray:
    weights = np.ones(len(labels))
    for corpus in np.unique(corpora):
        in_corpus = corpora == corpus
        classes = np.unique(labels[in_corpus])
        for c in classes:
            rows = in_corpus & (labels == c)
            weights[rows] = np.sqrt(in_corpus.sum()) / rows.sum() / len(classes)
    return weights / weights.mean()


def held_out_figures(x, labels, corpora, held_out) -> dict:
    train, test = corpora != held_out, corpora == held_out
    model = LogisticRegression(C=0.05, max_iter=1000).fit(x[train], labels[train],
                                                          sample_weight=corpus_weights(labels[train], corpora[train]))
    classes = np.unique(labels[test])
    top = classes[model.predict_proba(x[test])[:, np.searchsorted(model.classes_, classes)].argmax(1)]
    counts = np.bincount(top, minlength=8)
    return {"accuracy": float(np.mean(top == labels[test])), "largest_share": float(counts.max() / len(top))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--features", default="whisper", help="feature blocks, comma-separated")
    parser.add_argument("--stats-clips", default="0,5,10", help="held-out speakers' clips for their statistics")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    x, labels, corpora, speakers = load(args.root, args.features.split(","))
    everything = {"global": (corpora, np.ones(len(x), bool)), "corpus": (corpora, np.ones(len(x), bool))}
    rng = np.random.default_rng(0)
    for k in map(int, args.stats_clips.split(",")):
        chosen = np.ones(len(x), bool)
        if k:
            chosen[:] = corpora == "ravdess"  # RAVDESS is never held out: always all its clips
            for speaker in np.unique(speakers[corpora != "ravdess"]):
                rows = np.flatnonzero(speakers == speaker)
                chosen[rng.choice(rows, size=min(k, len(rows)), replace=False)] = True
        everything[f"speaker (stats of {k or 'all'} clips)"] = (speakers, chosen)
    results = {}
    for name, (groups, stats_rows) in everything.items():
        if name == "global":
            z = (x - x.mean(0)) / (x.std(0) + 1e-6)
        else:
            z = standardised(x, groups, stats_rows)
        results[name] = {c: held_out_figures(z, labels, corpora, c) for c in CORPORA[1:]}
        row = " | ".join(f"{r['accuracy']:.1%} ({r['largest_share']:.0%})" for r in results[name].values())
        mean = np.mean([r["accuracy"] for r in results[name].values()])
        print(f"| {name} | {row} | {mean:.1%} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
