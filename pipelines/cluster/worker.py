"""The worker's side of a cluster run: the model travels as a bundle of its files' bytes,
is written to a private folder and loaded once per worker process, and each task scores
one batch of paths with the recognizer, the code path of a local run."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ser_img.ensemble.model import EmotionModel
from ser_img.store.load import load_model
from ser_img.store.manifest import MANIFEST_FILE, read_description
from ser_img.options import RecognizerOptions
from ser_img.recognizer import EmotionRecognizer

from pipelines.predict import PredictReport, assemble_report, recognize_paths


@dataclass
class ModelBundle:
    """A model directory's files as bytes: workers get the model from the client, not their disk."""

    key: str  # SHA-256 of the manifest, which holds every other file's SHA-256
    name: str  # the directory's name, kept so that the model reports the same name everywhere
    files: dict[str, bytes] = field(repr=False)


def bundle_model(model_dir: Path) -> ModelBundle:
    """The files the manifest lists, read after checking them (a damaged model fails here, once)."""
    model_dir = Path(model_dir)
    names = [*read_description(model_dir)["files"], MANIFEST_FILE]
    files = {name: (model_dir / name).read_bytes() for name in names}
    return ModelBundle(hashlib.sha256(files[MANIFEST_FILE]).hexdigest(), model_dir.resolve().name, files)


MODEL_FOLDER_PREFIX = "ser-img-model-"  # then the worker's process id: a killed worker's folder is found by it
_worker_models: dict[str, tuple[EmotionModel, Path]] = {}
_worker_lock = threading.Lock()


def worker_model(bundle: ModelBundle) -> tuple[EmotionModel, Path]:
    """The bundle's model, written to a private folder and loaded once per worker process."""
    with _worker_lock:
        if bundle.key not in _worker_models:
            remove_stale_model_folders()
            root = Path(tempfile.mkdtemp(prefix=f"{MODEL_FOLDER_PREFIX}{os.getpid()}-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            folder = root / bundle.name
            folder.mkdir()
            for name, data in bundle.files.items():
                (folder / name).write_bytes(data)
            # One LiteRT thread: a worker thread is one core's worth of work (Dask's nanny sets
            # OMP_NUM_THREADS=1 for XGBoost and LightGBM likewise); LiteRT's default of two
            # threads spun on a core that the other worker wanted.
            _worker_models[bundle.key] = (load_model(folder, cnn_threads=1), folder)  # checks the manifest again
        return _worker_models[bundle.key]


def score_batch(bundle: ModelBundle, paths: list[str], options: RecognizerOptions) -> PredictReport:
    """One task: a batch scored on a worker, under the client's `options` (one decoding process:
    the worker is one of many). A bad file is a failure in the report, never an exception, so
    Dask never sees a failed task for it."""
    model, folder = worker_model(bundle)
    recognizer = EmotionRecognizer(model, folder, options, workers=1)
    try:
        return recognize_paths(recognizer, list(map(Path, paths)))
    except Exception:  # noqa: BLE001 - something unforeseen in one file: find it file by file
        results = {}
        for path in map(Path, paths):
            try:
                results[path] = recognize_paths(recognizer, [path]).answers[0][1]
            except Exception as exc:  # noqa: BLE001
                results[path] = f"{path}: {type(exc).__name__}: {exc}"
        return assemble_report(folder, list(map(Path, paths)), results)


def remove_stale_model_folders(where: Path | None = None) -> None:
    """Removes model folders left by workers that were killed before their clean-up ran (their
    process is gone), so that killed workers do not leave a model behind in the temp directory."""
    for folder in Path(where or tempfile.gettempdir()).glob(f"{MODEL_FOLDER_PREFIX}*-*"):
        owner = folder.name[len(MODEL_FOLDER_PREFIX):].split("-")[0]
        if owner.isdigit() and not _running(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

