"""How much would placing each change of speaker exactly help the emotion per turn? (issue 24, item 3)

    python experiments/change_oracle.py

An oracle: the conversation benchmark's 2-4-speaker conversations (seed 0, 30 dB) predicted
with `speakers="auto"`, except that where two pieces of different voices touch (a change
inside a stretch of speech), their boundary is moved to the true change (the middle of the
reference turns' overlap, or where one ends and the next begins) when one is within a piece
(1.6 s). What is left against the shipped path (70.3 % of turns right, 61.4 % of the turns
that overlap a neighbour's, DER 8.34 %) bounds what locating changes better could gain.
About 4 minutes on 2 cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from conversation_build import CORPORA, SNR_DB, build_all  # noqa: E402
from conversations import score_conversation  # noqa: E402

from ser_img import EmotionRecognizer  # noqa: E402
from ser_img.scoring import conversation  # noqa: E402

RATE = 16000
shipped_turns = conversation.speaker_turns
reference: list[dict] = []  # the reference turns of the conversation being scored
moved: list[float] = []  # seconds each boundary moved


def true_changes(turns: list[dict]) -> np.ndarray:
    """Samples where the voice changes: the middle between a turn's end and the next one's start."""
    return np.array([(b["start"] + a["end"]) / 2 * RATE for a, b in zip(turns, turns[1:])
                     if a["speaker"] != b["speaker"]])


def turns_at_true_changes(spans, labels, rate, *args, **kwargs):
    """`speakers.turns`, after every boundary between touching pieces of two voices is moved
    to the true change within a piece of it (leaving each piece at least 0.2 s)."""
    spans, changes = np.array(spans).copy(), true_changes(reference)
    for i in range(len(spans) - 1):
        touching = spans[i][1] == spans[i + 1][0] and labels[i] != labels[i + 1]
        if not touching or not len(changes):
            continue
        change = int(changes[np.argmin(np.abs(changes - spans[i][1]))])
        if abs(change - spans[i][1]) < 1.6 * RATE and spans[i][0] + 0.2 * RATE < change < spans[i + 1][1] - 0.2 * RATE:
            moved.append(abs(change - spans[i][1]) / RATE)
            spans[i][1] = spans[i + 1][0] = change
    return shipped_turns(spans, labels, rate, *args, **kwargs)


def overlapping(turns: list[dict]) -> list[bool]:
    return [(i > 0 and t["start"] < turns[i - 1]["end"]) or (i + 1 < len(turns) and turns[i + 1]["start"] < t["end"])
            for i, t in enumerate(turns)]


def main() -> None:
    conversation.speaker_turns = turns_at_true_changes
    recognizer = EmotionRecognizer.load(Path(__file__).resolve().parents[1] / "ser_img" / "default_model")
    right, near, errors = [], [], []
    for wav, info in build_all(CORPORA, [2, 3, 4], 12, 0, SNR_DB, Path("/tmp/ser_img_conversations")):
        reference[:] = info["turns"]
        scored = score_conversation(recognizer, wav, info, "auto")
        right += scored["turn_correct"]
        near += overlapping(info["turns"])
        errors.append(scored["der"])
    right, near = np.array(right), np.array(near)
    print(f"changes placed exactly: turns right {100 * right.mean():.1f} %, overlapping turns {100 * right[near].mean():.1f} %, "
          f"the others {100 * right[~near].mean():.1f} %, DER {100 * np.mean(errors):.2f} %; {len(moved)} boundaries "
          f"moved, median {np.median(moved):.2f} s, 90th percentile {np.percentile(moved, 90):.2f} s")


if __name__ == "__main__":  # the recognizer's worker processes import this file again
    main()
