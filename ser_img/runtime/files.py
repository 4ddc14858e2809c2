"""Files written whole or not at all, the temporaries killed writers leave, and file digests.

Used by everything that writes to disk (images, feature files, manifests, results, models)
and by everything that checks what it reads (the render manifest, the model's manifest).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# write_bytes_atomic's temporaries: ".NAME.PID.tmp".
_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")
_BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, read a block at a time (a file of any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Temporary file, flushed to disk, then renamed: the final name holds all or nothing.

    Without the fsync a power cut could persist the rename before the data, leaving an
    empty file under the final name. Temporaries are named ``.NAME.PID.tmp`` so that
    a later run can find and remove those of a killed one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporaries that killed writers left under `folder` (never final names).

    Only names of write_bytes_atomic's exact form are touched; a writer still running
    in `folder` would lose its temporary, so call this only when none can be.
    """
    for temporary in Path(folder).rglob(".*.tmp"):
        if _TEMPORARY.match(temporary.name) and temporary.is_file():
            temporary.unlink(missing_ok=True)
