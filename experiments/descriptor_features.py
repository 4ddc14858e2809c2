"""How far acoustic descriptors alone get, and beside the CNN's out-of-fold probabilities.

    python experiments/descriptor_features.py IMAGES_DIR [OOF_NPZ]

Reads the sources listed in IMAGES_DIR/manifest.csv, computes ser_img.features.descriptors for
each (cached beside the manifest), and scores classifiers by speaker-grouped CV.
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ser_img.audio.decode import load_audio
from ser_img.features.descriptors import descriptors
from ser_img.ensemble.folds import speaker_folds
from ser_img.labels import EMOTIONS
from ser_img.corpus.manifest import read_manifest
from ser_img.features.spectrogram import RenderSettings, trim_silence


def load(images_dir):
    cache = Path(images_dir) / "descriptors.npz"
    rows = [r for r in read_manifest(Path(images_dir)) if r.status == "ok" and r.label]
    rows.sort(key=lambda r: r.image)
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"], data["speakers"], data["images"]
    settings = RenderSettings()
    x = np.stack([descriptors(trim_silence(load_audio(Path(r.source), settings.sample_rate).samples, settings), settings)
                  for r in rows])
    y = np.array([EMOTIONS.index(r.label) for r in rows])
    speakers = np.array([r.speaker for r in rows])
    images = np.array([r.image for r in rows])
    np.savez(cache, x=x, y=y, speakers=speakers, images=images)
    return x, y, speakers, images


def cv(make, x, y, folds):
    probs = np.zeros((len(y), 8))
    for k in np.unique(folds):
        tr, te = folds != k, folds == k
        probs[te] = make().fit(x[tr], y[tr]).predict_proba(x[te])
    return probs


def acc(p, y):
    return float(np.mean(p.argmax(1) == y))


def main(images_dir, oof=None):
    x, y, speakers, images = load(images_dir)
    print("descriptors", x.shape, "nan", int(np.isnan(x).sum()))
    folds = np.zeros(len(y), int)
    for k, (_, te) in enumerate(speaker_folds(list(speakers), 6)):
        folds[te] = k
    for C in (0.003, 0.01, 0.03, 0.1):
        p = cv(lambda: make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000)), x, y, folds)
        print(f"LR C={C}: {acc(p, y):.3f}")
    if oof:
        d = np.load(oof)
        order = {name: i for i, name in enumerate(images)}
        idx = np.array([order[i] for i in d["images"]])
        xo, yo, fo = x[idx], y[idx], d["fold"]
        assert (yo == d["labels"]).all()
        p = cv(lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=3000)), xo, yo, fo)
        print(f"on oof folds: desc LR {acc(p, yo):.3f}  cnn {acc(d['cnn'], yo):.3f}  "
              f"mean(desc,cnn) {acc(p + d['cnn'], yo):.3f}")
        both = np.hstack([xo, np.log(d["cnn"] + 1e-6)])
        p2 = cv(lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=3000)), both, yo, fo)
        print(f"LR on desc + cnn log-probs: {acc(p2, yo):.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
