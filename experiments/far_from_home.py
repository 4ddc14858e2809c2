"""Far from home: does a distance of the Whisper vector from the training data tell when
the stack is over-confident, and does a temperature that grows with it calibrate LOCO?

    PYTHONPATH=. python experiments/far_from_home.py data/c far.npz     # 4 min, then cached in far.npz

For each held-out corpus (as experiments/loco.py): train (desc,enc,whisper; 3 folds) on the
others, keep its probabilities and each clip's distance (mean squared whitened coordinate
on the training data's 64 principal components). Then fit the temperature's growth
s(d) = 1 + a * max(0, d - d0), d0 the training clips' 95th percentile, on the other held-out
corpora (nested) and report each held-out corpus's ECE before and after.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.corpus.dataset import load_labelled_images
from ser_img.ensemble.settings import TrainSettings
from ser_img.features.extractors import feature_blocks
from ser_img.report.metrics import calibration
from ser_img.store.load import load_model
from pipelines.train import train

root = Path(sys.argv[1])
CORPORA = ("nemo", "ased", "spanish", "emovo", "korean")
home = [root / "ravdess", root / "ravdess-mix1", root / "ravdess-mix2"]
out = Path(sys.argv[2])


def whisper_of(folder):
    d = load_labelled_images(folder, with_images=False)
    return d, d.features[:, feature_blocks(d.settings)["whisper"]]


class Distance:
    def __init__(self, x, k=64):
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean) / self.std
        _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
        self.basis = vt[:k]
        self.scale = s[:k] / np.sqrt(len(z))

    def __call__(self, x):
        z = (x - self.mean) / self.std
        return np.mean(((z @ self.basis.T) / self.scale) ** 2, axis=1)


if not out.exists():
    rows = {}
    for held in CORPORA:
        others = [root / c for c in CORPORA if c != held]
        with tempfile.TemporaryDirectory() as tmp:
            report = train(home + others, "stack", Path(tmp) / "m", TrainSettings(members=("desc", "enc", "whisper"), max_folds=3))
            model = load_model(report.model_dir)
            train_x = np.concatenate([whisper_of(f)[1] for f in home + others])
            dist = Distance(train_x)
            d, x = whisper_of(root / held)
            p = model.predict_proba(d.images, d.features)
            rows[held] = dict(p=p, labels=d.labels, dist=dist(x), train_dist=dist(train_x))
            print(held, "done", flush=True)
    np.savez(out, **{f"{h}__{k}": v for h, r in rows.items() for k, v in r.items()})

z = np.load(out, allow_pickle=False)
R = {h: {k.split("__")[1]: z[k] for k in z.files if k.startswith(h + "__")} for h in CORPORA}


def restricted(p, labels):
    classes = np.unique(labels)
    q = p[:, classes]
    return q / q.sum(1, keepdims=True), np.searchsorted(classes, labels)


def sharpen(p, s):
    q = np.power(np.clip(p, 1e-12, 1), 1.0 / s[:, None])
    return q / q.sum(1, keepdims=True)


def nll(p, y):
    return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)))


for h in CORPORA:
    r = R[h]
    print(h, "dist held-out p10/50/90", np.percentile(r["dist"], [10, 50, 90]).round(2),
          "train p50/95/99", np.percentile(r["train_dist"], [50, 95, 99]).round(2))

for h in CORPORA:
    fit_on = [c for c in CORPORA if c != h]
    d0 = np.percentile(R[h]["train_dist"], 95)
    best = None
    for a in [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5]:
        loss = 0
        for c in fit_on:
            p, y = restricted(R[c]["p"], R[c]["labels"])
            d0c = np.percentile(R[c]["train_dist"], 95)
            loss += nll(sharpen(p, 1 + a * np.maximum(0, R[c]["dist"] - d0c)), y)
        if best is None or loss < best[0]:
            best = (loss, a)
    a = best[1]
    p, y = restricted(R[h]["p"], R[h]["labels"])
    s = 1 + a * np.maximum(0, R[h]["dist"] - d0)
    before, after = calibration(y, p)["ece"], calibration(y, sharpen(p, s))["ece"]
    print(f"{h}: a={a} ECE {before:.3f} -> {after:.3f}; share flattened {np.mean(s > 1):.2f}")
