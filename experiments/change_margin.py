"""Does leaving the audio next to a change of speaker out of each turn's emotion help? (issue 24, item 3)

    python experiments/change_margin.py [--margins 0,0.5,0.8] [--speakers auto]

The conversation benchmark's 2-4-speaker conversations (seed 0, 30 dB; benchmarks/
conversation_build.py) predicted with `speakers="auto"` at each `CHANGE_MARGIN_S`
(ser_img.scoring.conversation): emotion per turn as the benchmark scores it (the overlap-
weighted mean of the timeline's segments over the reference turn), for every turn and for
the turns that overlap a neighbour's, and the DER (which the margin must not move: turns keep
their place on the timeline). About 4 minutes a margin on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from conversation_build import CORPORA, SNR_DB, build_all  # noqa: E402
from conversations import score_conversation  # noqa: E402

from ser_img import EmotionRecognizer  # noqa: E402
from ser_img.scoring import conversation  # noqa: E402


def overlapped(turns: list[dict]) -> list[bool]:
    return [(i > 0 and t["start"] < turns[i - 1]["end"]) or (i + 1 < len(turns) and turns[i + 1]["start"] < t["end"])
            for i, t in enumerate(turns)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins", default="0,0.5,0.8")
    parser.add_argument("--speakers", default="auto")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ser_img_conversations"))
    args = parser.parse_args()
    recognizer = EmotionRecognizer.load(Path(__file__).resolve().parents[1] / "ser_img" / "default_model")
    built = build_all(CORPORA, [2, 3, 4], 12, 0, SNR_DB, args.cache)
    print("| margin (s) | turns right | overlapping turns right | the others | DER mean |\n|---|---|---|---|---|")
    for margin in (float(m) for m in args.margins.split(",")):
        conversation.CHANGE_MARGIN_S = margin
        right, near, errors = [], [], []
        for wav, info in built:
            speakers = args.speakers if args.speakers == "auto" else info["n_speakers"]
            scored = score_conversation(recognizer, wav, info, speakers)
            right += scored["turn_correct"]
            near += overlapped(info["turns"])
            errors.append(scored["der"])
        right, near = np.array(right), np.array(near)
        print(f"| {margin:g} | {100 * right.mean():.1f} % | {100 * right[near].mean():.1f} % ({near.sum()}) | "
              f"{100 * right[~near].mean():.1f} % | {100 * np.mean(errors):.2f} % |", flush=True)


if __name__ == "__main__":
    main()
