"""Atomic writes, stale temporaries and file digests (ser_img.runtime.files)."""

from __future__ import annotations

import hashlib
import os

import pytest

from ser_img.runtime import files
from ser_img.runtime.files import remove_stale_temporaries, sha256_file, write_bytes_atomic


def test_sha256_file_is_the_digest_of_the_bytes_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_BLOCK", 7)  # many blocks, the last one short
    data = bytes(range(256)) * 3
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_write_bytes_atomic_creates_folders_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "b" / "out.json"
    write_bytes_atomic(path, b"first")
    write_bytes_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_only_temporaries_of_the_exact_form_are_removed(tmp_path):
    stale = [tmp_path / ".a.png.123.tmp", tmp_path / "sub" / ".manifest.csv.9.tmp"]
    kept = [tmp_path / "a.png", tmp_path / ".notes.tmp", tmp_path / ".a.png.pid.tmp", tmp_path / "x.123.tmp"]
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / ".dir.1.tmp").mkdir()  # a folder of that name is not a temporary file
    remove_stale_temporaries(tmp_path)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept) and (tmp_path / ".dir.1.tmp").is_dir()


def test_the_temporary_name_is_what_remove_stale_temporaries_looks_for(tmp_path, monkeypatch):
    """A writer killed between writing and renaming leaves a temporary a later run removes."""
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    monkeypatch.setattr(files.Path, "unlink", lambda *a, **k: None)  # killed: no clean-up
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(tmp_path / "img.png", b"data")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == [f".img.png.{os.getpid()}.tmp"]
    remove_stale_temporaries(tmp_path)
    assert list(tmp_path.iterdir()) == []
