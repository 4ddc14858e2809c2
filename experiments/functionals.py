"""openSMILE functionals as a member: which feature set, at which input, and what it adds.

    python experiments/functionals.py RAVDESS_DIR MODEL_DIR

RAVDESS_DIR holds Actor_XX/*.flac (or .wav); MODEL_DIR is a model whose oof.npz gives the
out-of-fold probabilities of the other members on the same clips and folds (the figures
in docs/results.md used the model shipped before the redesign, at commit e6ca590).

For every clip: ComParE_2016 and eGeMAPSv02 functionals of the 16-kHz clip trimmed of
silence (as ser-img renders it), ComParE_2016 of the untrimmed clip at 16 kHz and at the
file's own 48 kHz, with the time each took on one core. Then a logistic regression per
variant and C in the same speaker-grouped folds, and stacks of the members with the
calibrated vote, weights and temperature chosen in nested folds.
"""

import itertools
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from pipelines.train import _chosen_stacker
from ser_img.audio.decode import load_audio
from ser_img.features.functionals import functionals
from ser_img.members.heads import LogisticHead, stack_features
from ser_img.report.metrics import summary
from ser_img.ensemble.settings import TrainSettings
from ser_img.features.spectrogram import RenderSettings, trim_silence

VARIANTS = {  # name: (feature set, rate, trimmed)
    "compare16": ("ComParE_2016", 16000, True),
    "egemaps16": ("eGeMAPSv02", 16000, True),
    "compare16raw": ("ComParE_2016", 16000, False),
    "compare48raw": ("ComParE_2016", 48000, False),
}


def extract(path):
    values, seconds = {}, {}
    decoded = {rate: load_audio(path, rate).samples for rate in {rate for _, rate, _ in VARIANTS.values()}}
    for name, (feature_set, rate, trimmed) in VARIANTS.items():
        samples = trim_silence(decoded[rate], RenderSettings()) if trimmed else decoded[rate]
        started = time.perf_counter()
        values[name] = functionals(samples, rate, feature_set)
        seconds[name] = time.perf_counter() - started
    return values, seconds


def main(ravdess_dir, model_dir):
    os.environ["OMP_NUM_THREADS"] = "1"
    oof = np.load(Path(model_dir) / "oof.npz")
    paths = [Path(ravdess_dir) / (name.rsplit(".", 1)[0] + ".flac") for name in oof["images"]]
    with Pool(2) as pool:
        results = pool.map(extract, paths, chunksize=8)
    labels, fold = oof["labels"], oof["fold"]
    members = {name: oof[name] for name in ["cnn", "mlp", "xgb", "lgbm", "desc"] if name in oof.files}
    print("| variant | C | accuracy | log-loss | ECE | ms per clip (one core) |\n|---|---|---|---|---|---|")
    for name in VARIANTS:
        x = np.stack([r[0][name] for r in results]).astype(np.float64)
        ms = 1000 * np.median([r[1][name] for r in results])
        for C in (0.003, 0.01, 0.03):
            p = np.zeros((len(labels), 8))
            for k in range(fold.max() + 1):
                p[fold == k] = LogisticHead(C=C).fit(x[fold != k], labels[fold != k]).predict_proba(x[fold == k])
            s = summary(labels, p)
            print(f"| {name} | {C} | {s['accuracy']:.3f} | {s['log_loss']:.3f} | {s['ece']:.3f} | {ms:.0f} |")
            members[f"{name}_C{C}"] = p
    print("\n| stack of | accuracy | log-loss | ECE |\n|---|---|---|---|")
    for combo in [["cnn", "desc"], ["cnn", "compare16_C0.003"], ["cnn", "xgb", "desc", "compare16_C0.003"],
                  ["cnn", "mlp", "xgb", "lgbm", "desc", "compare16_C0.003"]]:
        features, stacked = stack_features([members[m] for m in combo]), np.zeros((len(labels), 8))
        for k in range(fold.max() + 1):
            stacker, _, _ = _chosen_stacker(features[fold != k], labels[fold != k], np.zeros((fold != k).sum()), len(combo), TrainSettings())
            stacked[fold == k] = stacker.predict_proba(features[fold == k])
        s = summary(labels, stacked)
        print(f"| {' + '.join(combo)} | {s['accuracy']:.3f} | {s['log_loss']:.3f} | {s['ece']:.3f} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
