"""Answers written out as text: JSON Lines (a record per file, written as it comes) and the CSV
of `predict --csv` (a row per file, per speaker and per segment). Parquet is
`pipelines.cluster.parquet`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable

from ser_img.labels import EMOTIONS
from ser_img.records import Recognition

from .predict import answer_record


def json_lines(answers: Iterable[tuple[str, Recognition | str]], write: Callable[[str], None],
               seen: Callable[[Recognition], None] = lambda answer: None) -> list[tuple[str, str]]:
    """Each (source, answer or error) as one JSON record, handed to `write` as soon as it comes
    (`seen` is told of each recognition first); returns the failures, (source, error)."""
    failures = []
    for source, answer in answers:
        if isinstance(answer, str):
            failures.append((source, answer))
        else:
            seen(answer)
        write(json.dumps(answer_record(source, answer)))
    return failures


def timeline_csv(answers, with_speakers: bool = False) -> str:
    """A 'file' row per file in order (its overall answer, or its error), then, with speakers,
    a 'speaker' row per speaker (their overall answer), then its segments' rows; with speakers
    a last column names each row's speaker."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source", "row", "start", "end", "label", *EMOTIONS, "outcome", "speech_s", "warnings",
                     "error", *(["speaker"] if with_speakers else [])])
    tail = [""] if with_speakers else []
    for source, p in answers:
        if isinstance(p, str):
            writer.writerow([source, "file", "", "", "", *[""] * len(EMOTIONS), "error", "", "", p, *tail])
            continue
        probabilities = [f"{x:.6f}" for x in p.probabilities] if p.judged else [""] * len(EMOTIONS)
        speech = "" if p.speech_s is None else f"{p.speech_s:.3f}"
        writer.writerow([p.source, "file", "0.000", f"{p.duration_s:.3f}", p.label or "", *probabilities,
                         p.outcome, speech, "; ".join(p.warnings), "", *tail])
        for who in (p.speakers or []) if with_speakers else []:
            writer.writerow([p.source, "speaker", "", "", who.label, *(f"{x:.6f}" for x in who.probabilities),
                             "emotion", f"{who.speech_s:.3f}", "", "", who.speaker])
        for s in p.timeline if p.is_timeline else []:
            writer.writerow([p.source, "segment", f"{s.start:.3f}", f"{s.end:.3f}", s.label,
                             *(f"{x:.6f}" for x in s.probabilities), "emotion", "", "", "",
                             *([s.speaker or ""] if with_speakers else [])])
    return out.getvalue()
