"""How much speech a judgement needs, and which inputs to warn about: measured with the shipped model.

    python experiments/input_quality.py /work/shared/ravdess --clips 160 --out docs/trust_figures.json

1. Speech duration: each clip's speech (the renderer's trim) is cut to its central D seconds,
   D in DURATIONS; accuracy per D, with the measured `speech_seconds` of each cut.
2. Degradations of whole clips: telephone band (8 kHz), clipping (gain then clip at full
   scale), low level, white noise at a signal-to-noise ratio; accuracy per condition and the
   detector statistic of ser_img.speech.quality for clean and degraded clips.

RAVDESS actors 01-18 are the shipped model's training speakers: the absolute accuracies are
optimistic, and it is the change with duration or degradation that is used.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ser_img.speech import quality
from ser_img.audio.decode import load_audio, to_rate
from ser_img.labels import EMOTIONS
from ser_img.recognizer import EmotionRecognizer
from ser_img.audio.signal import trim_silence

DURATIONS = [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, None]  # None: the whole clip
RAVDESS_EMOTIONS = {f"{i + 1:02d}": name for i, name in enumerate(EMOTIONS)}


def clips(root: Path, count: int, seed: int) -> list[tuple[Path, int]]:
    files = sorted(root.rglob("03-01-*.flac"))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(files), size=min(count, len(files)), replace=False)
    return [(files[i], EMOTIONS.index(RAVDESS_EMOTIONS[files[i].name.split("-")[2]])) for i in sorted(chosen)]


def accuracy(model, signals: list[np.ndarray], truth: list[int]) -> float:
    probs = np.concatenate([model.predict_signals(signals[i : i + 32]) for i in range(0, len(signals), 32)])
    return float(np.mean(probs.argmax(axis=1) == np.array(truth)))


def duration_curve(model, settings, data, score: bool = True) -> list[dict]:
    """Accuracy per cut (with `score` False, only the speech measured in the cuts: no model needed)."""
    rows = []
    for seconds in DURATIONS:
        cuts = []
        for samples, _ in data:
            speech = trim_silence(samples, settings.n_fft, settings.hop_length, settings.trim_db)
            if seconds is not None:
                n = int(seconds * settings.sample_rate)
                start = max(0, (len(speech) - n) // 2)
                speech = speech[start : start + n]
            cuts.append(speech)
        speech_s = [quality.speech_seconds(c, settings.sample_rate) for c in cuts]
        rows.append({"cut_s": seconds, "median_speech_s": float(np.median(speech_s)),
                     "p10_speech_s": float(np.percentile(speech_s, 10)),
                     "p90_speech_s": float(np.percentile(speech_s, 90)),
                     "accuracy": accuracy(model, cuts, [t for _, t in data]) if score else None})
        print(rows[-1], flush=True)
    return rows


def degradations(rate: int) -> dict:
    rng = np.random.default_rng(1)

    def telephone(x):
        return to_rate(to_rate(x, rate, 8000), 8000, rate)

    def clip(gain):
        return lambda x: np.clip(x / np.abs(x).max() * gain, -1, 1).astype(np.float32)

    def level(dbfs):
        return lambda x: (x / np.abs(x).max() * 10 ** (dbfs / 20)).astype(np.float32)

    def noise(snr_db):
        def add(x):
            speech = trim_silence(x, 1024, 256, 40.0)
            power = float(np.mean(speech.astype(np.float64) ** 2))
            noisy = x + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), x.shape).astype(np.float32)
            return (noisy / max(1.0, np.abs(noisy).max())).astype(np.float32)
        return add

    return {"clean": lambda x: (x / np.abs(x).max() * 0.5).astype(np.float32), "telephone": telephone,
            **{f"clip x{g}": clip(g) for g in (1.5, 3, 6, 12)},
            **{f"level {d} dBFS": level(d) for d in (-30, -45, -55, -65)},
            **{f"noise {s} dB": noise(s) for s in (30, 20, 10, 5, 0)}}


def degradation_table(model, settings, data) -> list[dict]:
    rows = []
    for name, change in degradations(settings.sample_rate).items():
        changed = [change(samples) for samples, _ in data]
        measured = [quality.measure(x, settings.sample_rate) for x in changed]
        row = {"condition": name, "accuracy": accuracy(model, changed, [t for _, t in data])}
        for field in ("high_band_db", "clipped_fraction", "speech_level_dbfs", "snr_db"):
            values = np.array([np.nan if getattr(m, field) is None else getattr(m, field) for m in measured],
                              dtype=np.float64)  # snr_db is None without pauses to measure it in
            row[field] = {"p5": float(np.nanpercentile(values, 5)), "median": float(np.nanmedian(values)),
                          "p95": float(np.nanpercentile(values, 95))}
        row["warned"] = float(np.mean([bool(quality.warnings_for(m)) for m in measured]))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--clips", type=int, default=160)
    parser.add_argument("--only", choices=["duration", "degradation", "speech"], default=None,
                        help="speech: the speech measured in the duration cuts only, without the model")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    recognizer = EmotionRecognizer.load()
    settings, model = recognizer.settings, recognizer.model
    started = time.time()
    result = {"model": recognizer.model_info, "clips": args.clips}
    if args.only in (None, "duration", "speech"):
        data = [(load_audio(p, settings.sample_rate).samples, t) for p, t in clips(args.root, args.clips, 0)]
        result["duration"] = duration_curve(model, settings, data, score=args.only != "speech")
    if args.only in (None, "degradation"):
        data = [(load_audio(p, settings.sample_rate).samples, t) for p, t in clips(args.root, args.clips // 2, 1)]
        result["degradation"] = degradation_table(model, settings, data)
    result["seconds"] = round(time.time() - started)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
