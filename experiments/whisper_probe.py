"""Plain probes on the conditions cache (experiments/condition_features.py): which features
keep their emotion under level, noise, babble and the telephone line (issue 23).

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/whisper_probe.py --cache /work/cache/conditions \
        [--features ge2e,ge2e_lvl,w23] [--loco ge2e_lvl,w23,ge2e_lvl+w23] [--json out.json]

Probe: StandardScaler + LogisticRegression (C fixed, `--C`), RAVDESS actors 01-18,
GroupKFold by actor (6 folds of 3 actors). Trained on the training actors' clean clips
("clean") or on those plus one copy of each under a random condition ("+aug", the cache's
`aug`), then scored on the test actors under every cached condition: accuracy and ECE
(top label, 10 bins, `report.metrics.calibration`); for the level conditions also the share
of clips whose top label is the one the clean clip got.

Leave-one-corpus-out (`--loco`): trained on all RAVDESS clips (clean, or + aug) and four of
the five other corpora's cached clean clips, tested on the fifth; the decision and the
probabilities are restricted to the held-out corpus's classes. Accuracy, ECE and the
largest share of the predicted-class histogram.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ser_img.labels import EMOTIONS
from ser_img.report.metrics import calibration

WIDTH = 768  # one Whisper block's mean+std


def whisper_blocks(*blocks: int, key: str = "whisper"):
    def columns(data) -> np.ndarray:
        return np.concatenate([data[key][:, (b - 1) * WIDTH:b * WIDTH] for b in blocks], axis=1)
    return columns


FEATURES = {
    "ge2e": lambda d: d["ge2e_inc"],  # as the shipped enc member reads it
    "ge2e_lvl": lambda d: d["ge2e_lvl"],  # two-sided active-level normalisation first
    "w23_raw": whisper_blocks(2, 3, key="whisper_raw"),
    "w23": whisper_blocks(2, 3),
    "w12": whisper_blocks(1, 2),
    "w234": whisper_blocks(2, 3, 4),
    "w3": whisper_blocks(3),
    "w4": whisper_blocks(4),
    "ge2e_lvl+w23": lambda d: np.concatenate([d["ge2e_lvl"], whisper_blocks(2, 3)(d)], axis=1),
}
LEVEL_CONDITIONS = ("peak-1", "peak-35")


def load(cache: Path) -> dict[str, dict[str, np.ndarray]]:
    found = {}
    for path in sorted(cache.glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            found[path.stem] = {k: data[k] for k in data.files}
    return found


def features_of(name: str, data: dict) -> np.ndarray | None:
    try:
        return np.asarray(FEATURES[name](data), dtype=np.float64)
    except KeyError:  # this condition lacks the arrays (whisper_raw is cached for three only)
        return None


def probe(c: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


def scores(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    return {"accuracy": float(np.mean(probabilities.argmax(1) == labels)),
            "ece": calibration(labels, probabilities)["ece"],
            "confidence": float(probabilities.max(1).mean())}


def grouped_cv(name: str, cache: dict, c: float, augmented: bool, conditions: list[str]) -> dict:
    """Out-of-fold probabilities under each condition, then their scores."""
    clean = cache["clean"]
    labels, actors = clean["labels"], clean["actors"]
    x_clean = features_of(name, clean)
    x_aug = features_of(name, cache["aug"]) if augmented else None
    if augmented and x_aug is None:  # no augmented copies of these features: nothing to say
        return {}
    tested = {k: features_of(name, cache[k]) for k in conditions}
    tested = {k: v for k, v in tested.items() if v is not None}
    out = {k: np.zeros((len(labels), len(EMOTIONS))) for k in tested}
    for train, test in GroupKFold(n_splits=6).split(x_clean, labels, actors):
        x, y = x_clean[train], labels[train]
        if x_aug is not None:
            x, y = np.concatenate([x, x_aug[train]]), np.concatenate([y, labels[train]])
        model = probe(c).fit(x, y)
        for k, values in tested.items():
            out[k][test] = model.predict_proba(values[test])
    result = {k: scores(labels, p) for k, p in out.items()}
    if "clean" in out:
        for k in LEVEL_CONDITIONS:
            if k in out:
                result[k]["same_label"] = float(np.mean(out[k].argmax(1) == out["clean"].argmax(1)))
    return result


def centred(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group's mean vector subtracted from its rows (no labels used)."""
    x = x.copy()
    for g in set(groups.tolist()):
        x[groups == g] -= x[groups == g].mean(axis=0)
    return x


def loco(name: str, cache: dict, c: float, augmented: bool, centre: str = "none") -> dict:
    """`centre`: "none", or "corpus"/"speaker" to subtract each corpus's or speaker's mean
    feature vector first (a diagnosis of what shifts a corpus; "speaker" needs several clips
    of a voice at prediction time, as a conversation has)."""
    clean, other = cache["clean"], cache["loco"]
    rav_x, rav_y = features_of(name, clean), clean["labels"]
    x_other, y_other, corpora = features_of(name, other), other["labels"], other["corpora"]
    if centre != "none":
        key = {"corpus": (np.full(len(rav_y), "ravdess"), corpora),
               "speaker": (clean["actors"].astype(str), other["speakers"])}[centre]
        rav_x, x_other = centred(rav_x, key[0]), centred(x_other, key[1])
    if augmented:
        aug_x = features_of(name, cache["aug"])
        if centre != "none":
            aug_x = centred(aug_x, key[0])
        rav_x, rav_y = np.concatenate([rav_x, aug_x]), np.concatenate([rav_y, rav_y])
    result = {}
    for held in sorted(set(corpora.tolist())):
        inside = corpora == held
        model = probe(c).fit(np.concatenate([rav_x, x_other[~inside]]), np.concatenate([rav_y, y_other[~inside]]))
        classes = sorted(set(y_other[inside].tolist()))
        columns = [list(model.classes_).index(k) for k in classes]
        p = model.predict_proba(x_other[inside])[:, columns]
        p /= p.sum(axis=1, keepdims=True)
        truth = np.array([classes.index(k) for k in y_other[inside]])
        predicted = p.argmax(1)
        histogram = np.bincount(predicted, minlength=len(classes)) / len(predicted)
        result[held] = {"n": int(inside.sum()), "accuracy": float(np.mean(predicted == truth)),
                        "ece": calibration(truth, p)["ece"], "largest_share": float(histogram.max()),
                        "largest_class": EMOTIONS[classes[int(histogram.argmax())]],
                        "histogram": {EMOTIONS[k]: round(float(h), 3) for k, h in zip(classes, histogram)}}
    accuracies = [r["accuracy"] for r in result.values()]
    result["mean"] = {"accuracy": float(np.mean(accuracies)),
                      "worst_share": float(max(r["largest_share"] for r in result.values()))}
    return result


def table(results: dict, conditions: list[str], metric: str) -> str:
    head = "| features | train | " + " | ".join(conditions) + " |"
    lines = [head, "|" + "---|" * (len(conditions) + 2)]
    for (name, variant), by_condition in results.items():
        cells = [f"{100 * by_condition[k][metric]:.1f}" if metric != "ece" and k in by_condition
                 else (f"{by_condition[k][metric]:.3f}" if k in by_condition else "-") for k in conditions]
        lines.append(f"| {name} | {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/conditions"))
    parser.add_argument("--features", default=",".join(FEATURES))
    parser.add_argument("--variants", default="clean,+aug")
    parser.add_argument("--C", type=float, default=0.01)
    parser.add_argument("--loco", default="", help="feature sets for leave-one-corpus-out")
    parser.add_argument("--centre", default="none", help="loco: none, corpus or speaker (comma-separated for several)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cache = load(args.cache)
    order = ["clean", "peak-1", "peak-35", "pink20", "pink10", "babble20", "babble10", "telephone", "mp3"]
    conditions = [k for k in order if k in cache]
    results: dict = {}
    for name in [f for f in args.features.split(",") if f]:
        for variant in args.variants.split(","):
            if variant == "+aug" and "aug" not in cache:
                continue
            started = time.time()
            result = grouped_cv(name, cache, args.C, variant == "+aug", conditions)
            if result:
                results[(name, variant)] = result
            print(f"{name} {variant}: {time.time() - started:.0f} s", flush=True)
    print("\nAccuracy (%), RAVDESS 01-18, GroupKFold(6) by actor\n" + table(results, conditions, "accuracy"))
    print("\nECE (top label, 10 bins)\n" + table(results, conditions, "ece"))
    level = [k for k in LEVEL_CONDITIONS if k in conditions]
    if level:
        print("\nTop label unchanged from clean (%)\n" + table(results, level, "same_label"))
    loco_results = {}
    print("\n| features | train | centred | " + " | ".join(sorted(set(cache["loco"]["corpora"].tolist())))
          + " | mean |" if "loco" in cache and args.loco else "", flush=True)
    for name, variant, centre in [(f, v, c) for f in args.loco.split(",") if f and "loco" in cache
                                  for v in args.variants.split(",") for c in args.centre.split(",")]:
        if variant == "+aug" and "aug" not in cache:
            continue
        if True:
            r = loco(name, cache, args.C, variant == "+aug", centre)
            loco_results[f"{name} {variant} {centre}"] = r
            cells = " | ".join(f"{100 * v['accuracy']:.1f} ({100 * v['largest_share']:.0f} % {v['largest_class']}, "
                               f"ECE {v['ece']:.2f})" for k, v in r.items() if k != "mean")
            print(f"| {name} | {variant} | {centre} | {cells} | {100 * r['mean']['accuracy']:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"C": args.C, "cv": {f"{n} {v}": r for (n, v), r in results.items()},
                                         "loco": loco_results}, indent=1))


if __name__ == "__main__":
    main()
