"""Which noise floor the noise warning should read: the mean or the median power of the pauses.

    PYTHONPATH=. python experiments/snr_estimators.py --conditions-json conditions.json \
        --settings data/c/ravdess --model ser_img/default_model --audio ../shared/ravdess \
        --babble ../shared/corpora/emovo/labels.csv --babble ../shared/corpora/korean/labels.csv

Rebuilds every clip of `experiments/conditions_cv.py` under each condition (same seeds, same
held-out babble), measures the speech and pause chunks once, and puts the SNR of each
estimator beside the right/wrong answer that conditions_cv.py stored for the clip. Prints,
per estimator and threshold, the share of clean clips warned (false alarms), the share warned
per condition, the share with any input warning once the noise warning reads the median, and the
accuracy below and above the threshold over all conditions pooled.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.audio.conditions import apply_condition  # noqa: E402
from ser_img.audio.decode import load_audio  # noqa: E402
from ser_img.corpus.files import find_audio  # noqa: E402
from ser_img.corpus.manifest import read_settings  # noqa: E402
from ser_img.labels import EMOTIONS, clip_info  # noqa: E402
from ser_img.runtime.parallel import run_parallel  # noqa: E402
from ser_img.speech.quality import Quality, snr_from_powers, speech_and_pause_power, warnings_for  # noqa: E402
from experiments.conditions_cv import CONDITIONS, fold_babble_pools  # noqa: E402

THRESHOLDS = (6.0, 8.0, 10.0, 12.0)


def snr(speech: np.ndarray, pauses: np.ndarray, floor) -> float:
    """NaN where the clip gets no verdict (too few pauses, no speech, pauses as loud as speech)."""
    value = snr_from_powers(speech, pauses, floor)
    return np.nan if value is None else value


def warned_with(stored: dict, snr_db: np.ndarray) -> np.ndarray:
    """Whether each clip gets any input warning, from conditions_cv.py's stored measurements
    with the SNR replaced."""
    fields = ("speech_s", "high_band_db", "clipped_fraction", "speech_level_dbfs")
    return np.array([bool(warnings_for(Quality(*(stored[f][i] for f in fields), None if np.isnan(snr) else snr)))
                     for i, snr in enumerate(snr_db)])


def measure_job(job):
    paths, name, rate, pool_paths = job
    pool = [load_audio(p, rate).samples for p in pool_paths] if CONDITIONS[name].kind == "babble" else []
    rows = []
    for path in paths:
        signal = apply_condition(load_audio(path, rate).samples, rate, CONDITIONS[name],
                                 zlib.crc32(Path(path).name.encode()), pool)
        speech, pauses = speech_and_pause_power(signal, rate)
        rows.append((snr(speech, pauses, np.mean), snr(speech, pauses, np.median)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag in ("--conditions-json", "--settings", "--model", "--audio"):
        parser.add_argument(flag, type=Path, required=True)
    parser.add_argument("--babble", type=Path, action="append", required=True)
    args = parser.parse_args()
    stored = json.loads(args.conditions_json.read_text())["conditions"]
    rate = read_settings(args.settings).sample_rate
    with np.load(args.model / "oof.npz") as oof:
        fold_by_speaker = dict(zip(oof["speakers"].tolist(), oof["fold"].tolist()))
    clips = [(p, clip_info(p)) for p, _ in find_audio([args.audio]) if clip_info(p).label in EMOTIONS]
    paths = [p for p, _ in clips]
    fold_of = np.array([fold_by_speaker[info.speaker] for _, info in clips])
    pools = fold_babble_pools(fold_of, fold_by_speaker, args.babble)
    pooled = {"mean": [], "median": []}
    for name in stored:
        groups = [rows[i:i + 8] for k in np.unique(fold_of) for rows in [np.flatnonzero(fold_of == k)]
                  for i in range(0, len(rows), 8)]  # 8 clips of one fold (one babble pool) a job
        jobs = [([paths[i] for i in rows], name, rate, pools[fold_of[rows[0]]]) for rows in groups]
        values = np.full((len(paths), 2), np.nan)
        values[np.concatenate(groups)] = [row for batch in run_parallel(measure_job, jobs) for row in batch]
        right = np.array(stored[name]["quality"]["right"], bool)
        print(name, f"any warning with the median: {np.mean(warned_with(stored[name]['quality'], values[:, 1])):.1%}",
              flush=True)
        for column, key in enumerate(pooled):
            pooled[key].append((values[:, column], right))
            warned = {t: float(np.mean(values[:, column] < t)) for t in THRESHOLDS}
            print(name, key, f"no verdict {np.mean(np.isnan(values[:, column])):.1%}",
                  "warned", {t: f"{w:.1%}" for t, w in warned.items()},
                  "p5/50/95", np.round(np.nanpercentile(np.where(np.isinf(values[:, column]), 99, values[:, column]),
                                                        [5, 50, 95]), 1).tolist(), flush=True)
    for key, parts in pooled.items():
        values = np.concatenate([v for v, _ in parts])
        right = np.concatenate([r for _, r in parts])
        for t in THRESHOLDS:
            below, above = values < t, values >= t
            print(f"{key} threshold {t}: below {below.mean():.1%} of clips, {right[below].mean():.1%} right; "
                  f"above {right[above].mean():.1%} right; no verdict {right[np.isnan(values)].mean():.1%} right")


if __name__ == "__main__":
    main()
