"""Which training design gains across corpora without giving back RAVDESS (issue 15).

    python experiments/corpora.py data/c --members enc,desc --old-oof OLD_MODEL/oof.npz --out docs/corpora_experiment.json
    python experiments/corpora.py data/c --members mlp --designs "ravdess only;pooled, sqrt corpora, masked, ravdess 1/2 (shipped)" \
        --out docs/corpora_experiment.json --append

`data/c` holds one rendered folder per corpus (`ser-img render`; RAVDESS by its names, the
others by their labels.csv): ravdess, nemo, ased, emovo, spanish, korean. Members are
logistic regressions on one feature block each. Two figures decide, never one corpus:
- RAVDESS CV: the six speaker-grouped folds of RAVDESS actors that `ser-img train` uses;
  the test clips are RAVDESS only, training may add every clip of the other corpora;
- leave-one-corpus-out (LOCO): train on five corpora, test on the sixth, the decision
  restricted to the classes that corpus has.
Prints one table row per design; all from cached features, no audio is decoded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.corpus.dataset import load_labelled_images  # noqa: E402
from ser_img.features.extractors import feature_blocks  # noqa: E402
from ser_img.ensemble.folds import speaker_folds  # noqa: E402
from ser_img.members.heads import N_CLASSES, LogisticHead, MlpHead  # noqa: E402
from ser_img.members.registry import REGISTRY  # noqa: E402
from pipelines.train import class_masks, corpus_weights  # noqa: E402
from ser_img.report.metrics import summary  # noqa: E402

CORPORA = ("ravdess", "nemo", "ased", "emovo", "spanish", "korean")


def load(root: Path):
    data = {}
    for name in CORPORA:
        d = load_labelled_images(root / name, with_images=False)
        blocks = feature_blocks(d.settings)
        data[name] = {"X": {b: d.features[:, s] for b, s in blocks.items()}, "y": d.labels,
                      "speakers": np.array(d.speakers), "images": [r.image for r in d.rows]}
    return data


def fit_predict(member, train: dict, test_X: np.ndarray, design: dict) -> np.ndarray:
    names = list(train)  # RAVDESS first when present: it is the home corpus
    X = np.concatenate([_inputs(train[n]["X"], member) for n in names])
    y = np.concatenate([train[n]["y"] for n in names])
    corpora = np.concatenate([[n] * len(train[n]["y"]) for n in names])
    home = design.get("home_share", 0.0) if names[0] == "ravdess" else 0.0
    weights = corpus_weights(y, corpora, design["scheme"], home)
    masks = class_masks(y, corpora) if design["mask"] else None
    if member == "mlp":  # the MLP head without its CNN: on the encoder vector and the descriptors
        model = MlpHead(**REGISTRY["mlp"].params).fit(X, y, weights)
    else:
        model = LogisticHead(C=design.get("C", {}).get(member, REGISTRY[member].params["C"])).fit(X, y, weights, masks)
    return model.predict_proba(_inputs(test_X, member))


def _inputs(blocks: dict, member: str) -> np.ndarray:
    return np.concatenate([blocks["enc"], blocks["desc"]], axis=1) if member == "mlp" else blocks[member]


def subset(part: dict, idx) -> dict:
    return {"X": {k: v[idx] for k, v in part["X"].items()}, "y": part["y"][idx], "speakers": part["speakers"][idx]}


def ravdess_cv(data: dict, members, design: dict) -> dict[str, np.ndarray]:
    rav = data["ravdess"]
    oof = {m: np.zeros((len(rav["y"]), N_CLASSES)) for m in members}
    for train_idx, test_idx in speaker_folds(list(rav["speakers"]), 6):
        train = {"ravdess": subset(rav, train_idx)}
        if design["corpora"] == "all":
            train.update({n: data[n] for n in CORPORA if n != "ravdess"})
        for m in members:
            oof[m][test_idx] = fit_predict(m, train, {k: v[test_idx] for k, v in rav["X"].items()}, design)
    return oof


def loco(data: dict, members, design: dict) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for held in CORPORA:
        train = {n: data[n] for n in CORPORA if n != held}
        out[held] = {m: fit_predict(m, train, data[held]["X"], design) for m in members}
    return out


def fuse(probs: dict, weights: dict) -> np.ndarray:
    logits = sum(w * np.log(np.clip(probs[m], 1e-6, 1)) for m, w in weights.items() if w)
    logits = logits / sum(weights.values())
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def restricted_accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    present = np.bincount(y, minlength=N_CLASSES) > 0
    return float(np.mean(np.where(present, probs, -1).argmax(1) == y))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--members", default="enc,smile,desc")
    parser.add_argument("--old-oof", type=Path)
    parser.add_argument("--designs", default="all")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--append", action="store_true", help="add to --out's rows instead of replacing them")
    args = parser.parse_args()
    members = args.members.split(",")
    started = time.perf_counter()
    data = load(args.root)
    print(f"loaded in {time.perf_counter() - started:.0f} s:",
          ", ".join(f"{n} {len(d['y'])}" for n, d in data.items()), flush=True)
    old = None
    if args.old_oof:
        with np.load(args.old_oof, allow_pickle=False) as o:
            order = {img: i for i, img in enumerate(o["images"])}
            old = o["cnn"][[order[i] for i in data["ravdess"]["images"]]]
    designs = {
        "ravdess only": {"corpora": "ravdess", "scheme": "clips", "mask": False},
        "pooled, per-clip": {"corpora": "all", "scheme": "clips", "mask": False},
        "pooled, per-clip, masked": {"corpora": "all", "scheme": "clips", "mask": True},
        "pooled, equal corpora, masked": {"corpora": "all", "scheme": "equal", "mask": True},
        "pooled, sqrt corpora, masked": {"corpora": "all", "scheme": "sqrt", "mask": True},
        "pooled, sqrt corpora, masked, ravdess 1/3": {"corpora": "all", "scheme": "sqrt", "mask": True,
                                                       "home_share": 1 / 3},
        "pooled, sqrt corpora, masked, ravdess 1/2 (shipped)": {"corpora": "all", "scheme": "sqrt", "mask": True,
                                                                "home_share": 1 / 2},
    }
    if args.designs != "all":
        designs = {k: v for k, v in designs.items() if k in args.designs.split(";")}
    y = data["ravdess"]["y"]
    results = {}
    for label, design in designs.items():
        t = time.perf_counter()
        oof = ravdess_cv(data, members, design)
        row = {m: summary(y, p)["accuracy"] for m, p in oof.items()}
        fusions = {"enc+smile": {"enc": 1, "smile": 1}, "enc+smile+desc": {"enc": 2, "smile": 1, "desc": 1},
                   "enc+desc": {"enc": 2, "desc": 1}}
        if old is not None:
            oof["cnn"] = old
            fusions.update({"enc+cnn": {"enc": 2, "cnn": 1}, "enc+desc+cnn": {"enc": 2, "desc": 1, "cnn": 1},
                            "enc+smile+cnn": {"enc": 2, "smile": 1, "cnn": 1},
                            "all": {"enc": 2, "smile": 1, "desc": 1, "cnn": 1}})
        for f, w in fusions.items():
            if all(m in oof for m in w):
                row[f] = summary(y, fuse(oof, w))["accuracy"]
        if design["corpora"] == "all" or label == "ravdess only":
            lo = loco(data, members, design) if design["corpora"] == "all" else None
            if lo:
                for m in members + (["enc+smile"] if {"enc", "smile"} <= set(members) else []):
                    per = {c: restricted_accuracy(data[c]["y"], lo[c][m] if m in lo[c] else
                                                  fuse(lo[c], {"enc": 1, "smile": 1})) for c in CORPORA}
                    row[f"loco {m}"] = float(np.mean(list(per.values())))
                    row[f"loco {m} per corpus"] = {c: round(v, 3) for c, v in per.items()}
        row["seconds"] = round(time.perf_counter() - t)
        results[label] = row
        print(label, json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    if args.out:
        earlier = json.loads(args.out.read_text()) if args.append and args.out.exists() else {}
        for label, row in results.items():
            earlier.setdefault(label, {}).update(row)
        args.out.write_text(json.dumps(earlier, indent=2) + "\n")


if __name__ == "__main__":
    main()
