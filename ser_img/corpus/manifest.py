"""The render manifest: one CSV row per clip, next to the images it describes."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ser_img.errors import UsageError
from ser_img.features.spectrogram import RenderSettings
from ser_img.runtime.files import write_bytes_atomic

MANIFEST_NAME = "manifest.csv"
SETTINGS_NAME = "render_settings.json"


@dataclass
class ManifestRow:
    source: str  # audio path as given (absolute)
    image: str  # image path relative to the images folder; empty when rendering failed
    label: str  # one of EMOTIONS, or empty when unknown
    speaker: str  # empty when unknown; clips of unknown speakers are grouped together
    intensity: str
    statement: str
    repetition: str
    duration_s: str
    sample_rate: str  # of the source file
    size_bytes: str
    mtime_ns: str
    sha256: str  # of the source file's bytes
    status: str  # "ok" or "failed"
    error: str


COLUMNS = [f.name for f in fields(ManifestRow)]


def write_manifest(folder: Path, rows: list[ManifestRow]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r.source):
        writer.writerow(asdict(row))
    path = Path(folder) / MANIFEST_NAME
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))
    return path


def read_manifest(folder: Path) -> list[ManifestRow]:
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise UsageError(f"{path}: no manifest; render audio into {folder} with 'ser-img render' first")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise UsageError(f"{path}: not a ser-img manifest (missing {', '.join(sorted(missing))})")
        return [ManifestRow(**{name: row[name] or "" for name in COLUMNS}) for row in reader]


def write_settings(folder: Path, settings: RenderSettings) -> None:
    text = json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n"
    write_bytes_atomic(Path(folder) / SETTINGS_NAME, text.encode("utf-8"))


def read_settings(folder: Path) -> RenderSettings | None:
    path = Path(folder) / SETTINGS_NAME
    if not path.is_file():
        return None
    try:
        return RenderSettings.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: unreadable render settings ({exc})") from None
