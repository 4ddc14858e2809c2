"""Saving a model: every file written under a temporary name, listed with its digest in the
manifest, flushed to disk, then the directory renamed into place."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ser_img.ensemble.model import EmotionModel
from ser_img.errors import UsageError
from ser_img.labels import EMOTIONS
from ser_img.runtime.files import sha256_file, write_bytes_atomic
from ser_img.store.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    STACKER_FILE,
    extractor_files,
    member_file,
)
from ser_img.version import __version__


def save_model(model: EmotionModel, out_dir: Path, metrics: dict, reports: dict[str, bytes] | None = None,
               replace: bool = False) -> Path:
    """Write the whole directory under a temporary name, then rename it into place.

    `reports` are further files by name (the CV confusion matrix, out-of-fold predictions).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not replace:
        raise UsageError(f"{out_dir}: already exists (choose another --out or pass --force)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        for k, fold in enumerate(model.folds):
            for p, (cnn, heads) in enumerate(zip(fold.cnns, fold.heads)):
                (staging / member_file("cnn", k, p)).write_bytes(cnn.flatbuffer)
                for name, head in heads.items():
                    head.save(staging / member_file(name, k, p))
            for name, member in fold.plain.items():
                member.save(staging / member_file(name, k))
        if model.stacker is not None:
            model.stacker.save(staging / STACKER_FILE)
        description = {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "labels": list(EMOTIONS),
            "head": model.head,
            "n_folds": len(model.folds),
            "cnns_per_fold": len(model.folds[0].cnns),  # 0: a model without CNNs
            "render_settings": model.render_settings.to_dict(),
            "extractor_files": extractor_files(model.render_settings),
            **model.info,
        }
        _write_json(staging / MODEL_FILE, description)
        _write_json(staging / "metrics.json", metrics)
        for name, content in (reports or {}).items():
            (staging / name).write_bytes(content)
        files = sorted(p.name for p in staging.iterdir())
        _write_json(staging / MANIFEST_FILE, {"files": {name: sha256_file(staging / name) for name in files}})
        _sync_files(staging)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def attach_reports(model_dir: Path, reports: dict[str, bytes]) -> None:
    """Add or replace report files of a saved model (figures measured after training: its
    card, conditions, leave-one-corpus-out), each with its digest in the manifest."""
    model_dir = Path(model_dir)
    manifest = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    for name, content in reports.items():
        if name in (MODEL_FILE, MANIFEST_FILE, STACKER_FILE) or "/" in name:
            raise UsageError(f"{name}: not a report file")
        write_bytes_atomic(model_dir / name, content)
        manifest["files"][name] = sha256_file(model_dir / name)
    write_bytes_atomic(model_dir / MANIFEST_FILE, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def _sync_files(folder: Path) -> None:
    """Flush every file to disk, so that a power cut after the rename cannot leave empty files."""
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished directory into place; a model being replaced is renamed away first.

    Between the two renames `out_dir` is briefly absent (the old model is then at
    ``.NAME.PID.old``): never half-written, never a mix of old and new files.
    """
    if out_dir.exists():
        retired = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
        os.replace(out_dir, retired)
        os.replace(staging, out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
