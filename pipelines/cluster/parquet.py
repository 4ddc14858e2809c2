"""Prediction results as a Parquet dataset that a killed run can resume.

    OUT/files/part-00000.parquet      one row per file: path, label, 8 probabilities,
                                      duration_s, model_name, model_version, error, outcome
                                      (emotion, too short, no speech, error), speech_s, warnings
    OUT/segments/part-00000.parquet   one row per segment of a long recording (speaker: who
                                      speaks in it, when speakers were asked for, else null)
    OUT/speakers/part-00000.parquet   with speakers asked for: one row per speaker of a
                                      recording: overall label, 8 probabilities, speech_s,
                                      share, turns

Only one process (the client) writes. Each finished batch becomes one part, written to a
temporary name, flushed and renamed, so a part is whole or absent. A batch's segments part
is written before its files part and carries the same number: a files part is the commit
mark, and a segments or speakers part without one (a run killed before it) is removed on open,
since its files will be scored again. Paths that have a row are never scored again.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS
from ser_img.records import Recognition, flat_rows
from ser_img.runtime.files import remove_stale_temporaries, write_bytes_atomic

PART = re.compile(r"^part-(\d+)\.parquet$")
FILE_COLUMNS = ["path", "label", *EMOTIONS, "duration_s", "model_name", "model_version", "error", "outcome",
                "speech_s", "warnings"]
SEGMENT_COLUMNS = ["path", "start", "end", "label", *EMOTIONS, "speaker"]
SPEAKER_COLUMNS = ["path", "speaker", "label", *EMOTIONS, "speech_s", "share", "turns"]
TEXT_COLUMNS = {"path", "label", "model_name", "model_version", "error", "outcome", "warnings", "speaker"}


def file_row(prediction: Recognition) -> dict:
    return _pick(flat_rows(prediction.source, prediction)[0], FILE_COLUMNS)


def failure_row(path: str, error: str, model: dict[str, str]) -> dict:
    return _pick(flat_rows(path, error, model)[0], FILE_COLUMNS)


def segment_rows(prediction: Recognition) -> list[dict]:
    """The timeline of a recording scored window by window; none for a clip scored whole."""
    return [_pick(r, SEGMENT_COLUMNS) for r in flat_rows(prediction.source, prediction) if r["row"] == "segment"]


def speaker_rows(prediction: Recognition) -> list[dict]:
    """Each speaker's overall answer; none when speakers were not asked for."""
    return [_pick(r, SPEAKER_COLUMNS) for r in flat_rows(prediction.source, prediction) if r["row"] == "speaker"]


def _pick(row: dict, columns: list[str]) -> dict:
    """The Parquet table's columns of one of `records.flat_rows`."""
    return {column: row.get(column) for column in columns}


class ParquetResults:
    """The dataset at `out`: which paths are done, and a way to add a batch's rows."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.files_dir, self.segments_dir = self.out / "files", self.out / "segments"
        self.speakers_dir = self.out / "speakers"
        if self.out.exists() and not self.out.is_dir():
            raise UsageError(f"{self.out}: exists and is not a results folder")
        for folder in (self.files_dir, self.segments_dir, self.speakers_dir):
            if folder is not self.speakers_dir:  # made when a run first has speakers to write
                folder.mkdir(parents=True, exist_ok=True)
            if folder.is_dir():
                remove_stale_temporaries(folder)
        committed = self._parts(self.files_dir)
        for folder in (f for f in (self.segments_dir, self.speakers_dir) if f.is_dir()):
            for number, part in self._parts(folder).items():
                if number not in committed:
                    part.unlink()  # its batch never committed; those files are scored again
        self.done: set[str] = set(self._column(self.files_dir, "path"))
        self._next = max(committed, default=-1) + 1

    @staticmethod
    def _parts(folder: Path) -> dict[int, Path]:
        return {int(m.group(1)): p for p in folder.iterdir() if (m := PART.match(p.name))}

    @staticmethod
    def _column(folder: Path, name: str) -> list:
        import pyarrow.parquet as pq

        values: list = []
        for part in sorted(folder.glob("part-*.parquet")):
            values += pq.read_table(part, columns=[name]).column(name).to_pylist()
        return values

    def add(self, files: list[dict], segments: list[dict], speakers: list[dict] = ()) -> int:
        """Write one batch as one part; rows for paths already done are dropped. Returns rows written."""
        files = [row for row in files if row["path"] not in self.done]
        paths = {row["path"] for row in files}
        segments = [row for row in segments if row["path"] in paths]
        speakers = [row for row in speakers if row["path"] in paths]
        if not files:
            return 0
        name = f"part-{self._next:05d}.parquet"
        if segments:
            write_bytes_atomic(self.segments_dir / name, _parquet_bytes(segments, SEGMENT_COLUMNS))
        if speakers:
            self.speakers_dir.mkdir(exist_ok=True)
            write_bytes_atomic(self.speakers_dir / name, _parquet_bytes(speakers, SPEAKER_COLUMNS))
        write_bytes_atomic(self.files_dir / name, _parquet_bytes(files, FILE_COLUMNS))
        self._next += 1
        self.done |= paths
        return len(files)


def _parquet_bytes(rows: list[dict], columns: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string() if c in TEXT_COLUMNS else pa.float64()) for c in columns])
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()
