"""CNN alone on two speaker-grouped folds, with and without each augmentation.

    python experiments/cnn_variants.py IMAGES_DIR [variant ...]

Each variant trains on the other speakers (all of them, as `--head cnn` does) and is
scored on the held-out speakers of folds 1 and 2 of the six. The augmentation variants
ran at commit 00f4549, whose CnnSettings had time_shift, masks, mask_share and
mixup_alpha; augmentation did not help (docs/results.md) and was removed after it.
"""

import dataclasses
import sys
import time

import numpy as np

from ser_img.members.cnn import cnn_outputs, train_cnn
from ser_img.corpus.dataset import load_labelled_images
from ser_img.ensemble.folds import speaker_folds
from ser_img.members.heads import balanced_weights
from ser_img.members.settings import CnnSettings

# At 00f4549 the list also held "all_aug40" (CnnSettings(epochs=40), every augmentation on)
# and "shift_masks30" (CnnSettings(epochs=30, mixup_alpha=0.0)).
VARIANTS = {
    "plain30": CnnSettings(epochs=30),
    "plain30_lr4e-3": CnnSettings(epochs=30, learning_rate=4e-3),
    "plain30_wide": CnnSettings(epochs=30, channels=(24, 48, 96, 128)),
}


def main(images_dir, *names):
    data = load_labelled_images(images_dir)
    folds = speaker_folds(data.speakers, 6)[:2]
    for name in names or VARIANTS:
        settings = VARIANTS[name]
        started, scores = time.perf_counter(), []
        for k, (train, test) in enumerate(folds):
            cnn = train_cnn(data.images[train], data.labels[train], 8, settings, seed=k,
                            sample_weight=balanced_weights(data.labels[train]))
            scores.append(float(np.mean(cnn_outputs(cnn, data.images[test])[1].argmax(1) == data.labels[test])))
        print(f"{name}: folds {['%.3f' % s for s in scores]} mean {np.mean(scores):.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
