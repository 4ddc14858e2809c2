"""CNN alone on all six speaker-grouped folds, with and without vocal-tract-length and
tempo perturbation (CnnSettings.warp_freq, warp_time: a random stretch of the mel and
time axes of each training image, per epoch).

    python experiments/cnn_warp.py IMAGES_DIR WARP_FREQ WARP_TIME

Each fold's CNN learns from the same speakers as a fold CNN of the model before the
redesign (three quarters of the fold's training speakers), so the plain figures are
that model's CNN figures (0.481 pooled).
"""

import sys

import numpy as np

from ser_img.members.cnn import cnn_outputs, train_cnn
from ser_img.corpus.dataset import load_labelled_images
from ser_img.ensemble.folds import speaker_folds
from ser_img.members.heads import balanced_weights
from ser_img.members.settings import CnnSettings


def main(images_dir, warp_freq, warp_time):
    data = load_labelled_images(images_dir)
    settings = CnnSettings(warp_freq=float(warp_freq), warp_time=float(warp_time))
    probabilities, accuracies = np.zeros((len(data.labels), 8)), []
    for k, (train_idx, test_idx) in enumerate(speaker_folds(data.speakers, 6)):
        # The old design's CNN part: inner fold 0 of 4 held out for the heads.
        inner = speaker_folds([data.speakers[i] for i in train_idx], max_folds=4)
        rows = train_idx[inner[0][0]]
        cnn = train_cnn(data.images[rows], data.labels[rows], 8, settings, seed=k,
                        sample_weight=balanced_weights(data.labels[rows]))
        probabilities[test_idx] = cnn_outputs(cnn, data.images[test_idx])[1]
        accuracies.append(float(np.mean(probabilities[test_idx].argmax(1) == data.labels[test_idx])))
        print(f"fold {k + 1}: {accuracies[-1]:.3f}", flush=True)
    print(f"pooled {np.mean(probabilities.argmax(1) == data.labels):.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
