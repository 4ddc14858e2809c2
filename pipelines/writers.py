"""Answers written out as text: JSON Lines (a record per file, written as it comes) and the CSV
of `predict --csv` (a row per file, per speaker and per segment). Parquet is
`pipelines.cluster.parquet`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable

from ser_img.labels import EMOTIONS
from ser_img.records import Recognition, flat_rows

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


CSV_COLUMNS = ["source", "row", "start", "end", "label", *EMOTIONS, "outcome", "speech_s", "warnings", "error"]
DECIMALS = {"start": 3, "end": 3, "speech_s": 3, **dict.fromkeys(EMOTIONS, 6)}


def timeline_csv(answers, with_speakers: bool = False) -> str:
    """A 'file' row per file in order (its overall answer, or its error), then, with speakers,
    a 'speaker' row per speaker (their overall answer), then its segments' rows; with speakers
    a last column names each row's speaker. The rows are `records.flat_rows`, formatted."""
    columns = CSV_COLUMNS + (["speaker"] if with_speakers else [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for source, answer in answers:
        for row in flat_rows(source, answer):
            if row["row"] != "speaker" or with_speakers:
                writer.writerow([_cell(row, c) for c in columns])
    return out.getvalue()


def _cell(row: dict, column: str) -> str:
    value = row.get("path" if column == "source" else column)
    if value is None:
        return ""
    return f"{value:.{DECIMALS[column]}f}" if column in DECIMALS else str(value)
