"""What white noise costs the shipped model on clips alone: the noise of benchmarks/conversations.py.

    python experiments/noise_cost.py

40 random clips of each of the six corpora (seed 1), scored as files, cut to their speech
(benchmarks/conversations.py's `speech_of`), and cut with white noise 40, 30 and 20 dB below
the speech's RMS. Prints the accuracy of each, overall and per corpus (docs/conversations.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import conversations  # noqa: E402

from ser_img import EmotionRecognizer  # noqa: E402


def main() -> None:
    recognizer = EmotionRecognizer.load()
    rng = np.random.default_rng(1)
    clips = []
    for corpus in conversations.CORPORA:
        found = conversations.corpus_clips(corpus)
        clips += [found[i] for i in rng.choice(len(found), 40, replace=False)]
    right: dict[str, list[bool]] = {k: [] for k in ("file", "speech", "snr40", "snr30", "snr20")}
    for clip in clips:
        right["file"].append(recognizer.predict(clip.path).label == clip.label)
        speech = conversations.speech_of(clip)
        right["speech"].append(recognizer.predict(speech, sr=16000).label == clip.label)
        rms = np.sqrt(np.mean(speech.astype(np.float64) ** 2))
        for snr in (40, 30, 20):
            noisy = (speech + rng.normal(0, rms * 10 ** (-snr / 20), len(speech))).astype(np.float32)
            right[f"snr{snr}"].append(recognizer.predict(noisy, sr=16000).label == clip.label)
    print(len(clips), "clips:", {k: round(100 * np.mean(v), 1) for k, v in right.items()})
    for i, corpus in enumerate(conversations.CORPORA):
        print(corpus, {k: round(100 * np.mean(v[40 * i : 40 * i + 40]), 1) for k, v in right.items()})


if __name__ == "__main__":
    main()
