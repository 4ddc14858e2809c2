"""How often each input warning fires on real corpora, and the clipping statistic before and
after resampling (no model needed). Figures in docs/trust.md.

    python experiments/warning_rates.py /work/shared
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import numpy as np
import soundfile

from ser_img.speech import quality
from ser_img.audio.decode import load_audio, to_rate

KINDS = ("narrowband", "clipped", "very low level", "background noise")


def corpus_files(shared: Path, name: str) -> list[str]:
    if name == "ravdess":
        return sorted(str(p) for p in (shared / "ravdess").glob("*/*.flac"))
    root = shared / "corpora" / name
    with open(root / "labels.csv", newline="") as handle:
        return [str(root / row["path"]) for row in csv.DictReader(handle)]


def warning_rates(shared: Path, per_corpus: int = 60) -> None:
    for name in ["ravdess", "emovo", "spanish", "nemo", "ased", "korean"]:
        files = random.sample(corpus_files(shared, name), per_corpus)
        counts = dict.fromkeys(KINDS, 0)
        snrs, levels = [], []
        for path in files:
            audio = load_audio(path, 16000)
            measured = quality.measure(audio.samples, 16000)
            snrs.append(np.nan if measured.snr_db is None else min(measured.snr_db, 99.0))
            levels.append(measured.speech_level_dbfs)
            for text in quality.warnings_for(measured, audio.source_rate):
                counts.update({k: counts[k] + 1 for k in KINDS if text.startswith(k)})
        print(name, {k: f"{v / len(files):.2f}" for k, v in counts.items()},
              "SNR p5/median/p95", [round(float(np.nanpercentile(snrs, q)), 1) for q in (5, 50, 95)],
              "no SNR verdict", f"{np.mean(np.isnan(snrs)):.2f}",
              "speech level p5/median/p95", [round(float(np.percentile(levels, q)), 1) for q in (5, 50, 95)])


def clipping_before_and_after_resampling(shared: Path, count: int = 40) -> None:
    def fraction(y):
        peak = np.abs(y).max()
        return float(np.mean(np.abs(y) >= peak * 0.999)) if peak >= quality.CLIP_LEVEL else 0.0

    source, resampled, clean = [], [], []
    for path in random.sample(corpus_files(shared, "ravdess"), count):
        x, rate = soundfile.read(path, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        clipped = np.clip(x / np.abs(x).max() * 1.5, -1, 1)
        source.append(fraction(clipped))
        resampled.append(fraction(np.clip(to_rate(clipped, rate, 16000), -1, 1)))
        clean.append(fraction(to_rate(x / np.abs(x).max(), rate, 16000)))
    print("gain 1.5 at the source rate: p5", np.percentile(source, 5), "median", np.median(source))
    print("gain 1.5 resampled to 16 kHz: p5", np.percentile(resampled, 5), "median", np.median(resampled))
    print("clean, peak-normalised, 16 kHz: p95", np.percentile(clean, 95), "max", max(clean))


if __name__ == "__main__":
    random.seed(0)
    shared = Path(sys.argv[1])
    warning_rates(shared)
    clipping_before_and_after_resampling(shared)
