"""How the corpora differ as recordings: level, noise floor, band (issue 23, item 3).

    PYTHONPATH=. python experiments/corpus_conditions.py [--per-corpus 300]

For the clips the conditions cache holds (experiments/condition_features.py: RAVDESS 01-18
and at most 300 speaker-balanced clips of each other corpus), per corpus, medians of:
the active speech level (audio.level, P.56) of the whole recording, its activity (share
of the recording counted as speech), the noise floor (the quietest 10 % of 32-ms frames,
dBFS) and the speech-to-floor ratio, the share of the speech's power above 4 kHz, and the
frequency under which 99 % of it lies (a band limit shows as a low edge).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import condition_features as cf  # noqa: E402

from ser_img.audio.level import active_level  # noqa: E402

FRAME = 512


def describe(x: np.ndarray) -> dict:
    level = active_level(x, cf.RATE)
    frames = x[:len(x) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    power = np.mean(frames**2, axis=1)
    floor = 10 * np.log10(max(np.percentile(power, 10), 1e-13))
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    loud = power >= np.percentile(power, 50)
    total = spectrum[loud].sum(axis=0)
    freqs = np.fft.rfftfreq(FRAME, 1 / cf.RATE)
    cumulative = np.cumsum(total) / total.sum()
    return {"level": level.level_dbfs, "activity": level.activity, "floor": floor,
            "snr": level.level_dbfs - floor, "above4k": total[freqs > 4000].sum() / total.sum(),
            "edge99": freqs[np.searchsorted(cumulative, 0.99)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-corpus", type=int, default=300)
    args = parser.parse_args()
    sets = {"ravdess": [cf.decode(p) for p, _, _ in cf.ravdess_clips()[::3]]}
    for corpus in cf.OTHER:
        rows = cf.balanced(cf.corpus_rows(corpus), args.per_corpus, seed=7)[::3]
        sets[corpus] = [cf.decode(cf.CORPORA / corpus / r["path"]) for r in rows]
    print("| corpus | clips | active level dBFS | activity | noise floor dBFS | speech/floor dB | power > 4 kHz | 99 % below Hz |")
    print("|---|---|---|---|---|---|---|---|")
    for corpus, clips in sets.items():
        d = [describe(x) for x in clips]
        m = {k: float(np.median([r[k] for r in d])) for k in d[0]}
        print(f"| {corpus} | {len(clips)} | {m['level']:.1f} | {m['activity']:.2f} | {m['floor']:.1f} | {m['snr']:.1f} "
              f"| {100 * m['above4k']:.1f} % | {m['edge99']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
