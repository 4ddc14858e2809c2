"""What is measured of a model after training, added to its card: the speaker-grouped CV
figures under recording conditions, and leave-one-corpus-out figures (issue 23).

Pure text from the experiments' JSON (experiments/conditions_cv.py, experiments/loco.py);
`with_section` puts a section into a card, replacing an earlier one of the same title.
"""

from __future__ import annotations

CONDITIONS_TITLE = "## Under recording conditions"
LOCO_TITLE = "## Leave one corpus out"


def conditions_section(results: dict, command: str) -> str:
    """The CV figures of the model's output under each condition, beside clean."""
    conditions = results["conditions"]
    clean = conditions["clean"][conditions["clean"]["final"]]["accuracy"]
    lines = [CONDITIONS_TITLE, "",
             f"Every RAVDESS clip of the training speakers ({results['clips']}) put through each condition, "
             "rendered as prediction renders it, and scored by the one fold of the model that never heard its "
             "speaker: speaker-grouped CV, as above. Noise and babble are mixed at the SNR named, against the "
             "clip's active speech level; the babble's talkers are of corpora the training copies' babble did "
             f"not use. Command: `{command}`.", "",
             "| condition | accuracy | change | ECE | top label as clean | largest class share |",
             "|---|---|---|---|---|---|"]
    for name, figures in conditions.items():
        row = figures[figures["final"]]
        same = row.get("same_top_as_clean", 1.0)
        lines.append(f"| {name} | {row['accuracy']:.1%} | {100 * (row['accuracy'] - clean):+.1f} | {row['ece']:.3f} | "
                     f"{same:.1%} | {row['largest_share']:.0%} ({row['largest_class']}) |")
    return "\n".join(lines) + "\n"


def loco_section(results: dict, command: str) -> str:
    """Per held-out corpus: accuracy, UAR, calibration and what it predicts."""
    lines = [LOCO_TITLE, "",
             "Trained on every corpus but one (RAVDESS and its copies always in), tested on the one left out, the "
             f"decision restricted to its classes; members {results['members']} (no CNN: one per held-out corpus "
             f"is beyond two cores). Command: `{command}`.", "",
             "| held-out corpus | clips | accuracy | UAR | ECE | largest class share | predicted classes |",
             "|---|---|---|---|---|---|---|"]
    for corpus, row in results["corpora"].items():
        histogram = ", ".join(f"{name} {count}" for name, count in row["histogram"].items())
        lines.append(f"| {corpus} | {row['clips']} | {row['accuracy']:.1%} | {row['uar']:.1%} | {row['ece']:.3f} | "
                     f"{row['largest_share']:.0%} ({row['largest_class']}) | {histogram} |")
    lines.append(f"| mean | | {results['mean_accuracy']:.1%} | | | | |")
    return "\n".join(lines) + "\n"


def with_section(card: str, section: str) -> str:
    """`card` with `section` in place of the one of the same title, or else before "## Limits"."""
    title = section.split("\n", 1)[0]
    start = card.find(title + "\n")
    if start >= 0:
        end = card.find("\n## ", start + len(title))
        return card[:start] + section + (card[end + 1:] if end >= 0 else "")
    limits = card.find("## Limits")
    return card[:limits] + section + "\n" + card[limits:] if limits >= 0 else card.rstrip("\n") + "\n\n" + section
