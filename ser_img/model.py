"""The trained model: fold CNNs, heads and stacker, saved as a checked directory.

Directory layout (every file listed with its SHA-256 in manifest.json):
  model.json     labels, head, render and training settings, versions, members
  cnn_K.tflite   fold K's CNN as a TensorFlow Lite flatbuffer, run by LiteRT at inference
  mlp_K.npz, xgb_K.ubj.gz, lgbm_K.txt.gz, desc_K.npz   fold K's heads, where the model uses them
  stacker.npz                               the stacker, for head "stack"
  metrics.json, confusion.png               cross-validated figures
  oof.npz                                   out-of-fold probabilities behind those figures
Nothing in it is unpickled: NumPy archives load with allow_pickle=False; TensorFlow is not loaded.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ModelError, UsageError
from .heads import HEADS, DenseHead, head_features, stack_features
from .labels import EMOTIONS
from .lite import LiteCnn
from .spectrogram import RenderSettings, render_inputs

FORMAT_VERSION = 2  # 2: heads read descriptors beside the embeddings
MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
STACKER_FILE = "stacker.npz"
PACKAGED_MODEL = Path(__file__).parent / "default_model"  # the RAVDESS model shipped in the package
# Which heads each kind of model carries; "stack" stacks the CNN and all three heads.
# "desc" (logistic regression on the acoustic descriptors alone) serves only the stack.
HEAD_MEMBERS = {"cnn": [], "mlp": ["mlp"], "xgb": ["xgb"], "lgbm": ["lgbm"],
                "stack": ["mlp", "xgb", "lgbm", "desc"]}
# Every member a model can report, in the order tables list them.
MEMBERS = ("cnn", *HEAD_MEMBERS["stack"], "stack")


@dataclass
class EmotionModel:
    head: str
    render_settings: RenderSettings
    cnns: list[LiteCnn]  # one per fold, run by LiteRT
    heads: list[dict] = field(default_factory=list)  # per fold CNN: head name -> head
    stacker: DenseHead | None = None
    info: dict = field(default_factory=dict)  # training settings, metrics summary, versions

    def member_probabilities(self, images: np.ndarray, descriptors: np.ndarray,
                             skip: frozenset = frozenset()) -> dict[str, np.ndarray]:
        """Class probabilities of the CNN, each head and the stack, averaged over the folds.

        Each fold's heads see only their own CNN's embeddings (beside the descriptors):
        embedding spaces of separately trained CNNs do not line up. Heads in `skip` are
        not run; they stand in as uniform probabilities (for the stack: weight 0 anyway).
        """
        totals: dict[str, np.ndarray] = {}
        uniform = np.full((len(images), len(EMOTIONS)), 1.0 / len(EMOTIONS))
        for cnn, heads in zip(self.cnns, self.heads):
            embeddings, cnn_probs = cnn.outputs(images)
            members = {"cnn": cnn_probs}
            members.update({name: uniform if name in skip else
                             head.predict_proba(head_features(name, embeddings, descriptors))
                             for name, head in heads.items()})
            if self.stacker is not None:
                members["stack"] = self.stacker.predict_proba(stack_features(list(members.values())))
            for name, probs in members.items():
                totals[name] = totals.get(name, 0.0) + probs / len(self.cnns)
        return totals

    def predict_proba(self, images: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        members = self.member_probabilities(images, descriptors, self._unweighted_heads())
        return members["stack" if self.head == "stack" else self.head]

    def _unweighted_heads(self) -> frozenset:
        """Heads the stack gives weight 0 (all-zero rows in its first layer): no need to run them."""
        if self.stacker is None or not self.heads:
            return frozenset()
        rows = np.abs(self.stacker.weights[0]).reshape(1 + len(self.heads[0]), len(EMOTIONS), -1).sum(axis=(1, 2))
        return frozenset(name for name, total in zip(self.heads[0], rows[1:]) if total == 0)

    def predict_signals(self, signals: list[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 8) for mono float32 clips at `render_settings.sample_rate`.

        The one entry point from audio to probabilities: every caller goes through it (or
        through `render_inputs` then `predict_prepared`, to render elsewhere: in worker
        processes, or once for both the scores and the image shown to a user).
        """
        return self.predict_prepared([render_inputs(s, self.render_settings) for s in signals])

    def predict_prepared(self, prepared: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Probabilities for clips already turned into (image, descriptors) by `render_inputs`."""
        if not prepared:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float64)
        images, descriptors = zip(*prepared)
        return self.predict_proba(np.stack(images), np.stack(descriptors))

    @property
    def name(self) -> str:
        return self.info.get("name", "model")


def head_file(name: str, fold: int) -> str:
    stem, suffix = HEADS[name].file_name.split(".", 1)
    return f"{stem}_{fold}.{suffix}"


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
        for index, (cnn, heads) in enumerate(zip(model.cnns, model.heads)):
            (staging / f"cnn_{index}.tflite").write_bytes(cnn.flatbuffer)
            for name, head in heads.items():
                head.save(staging / head_file(name, index))
        if model.stacker is not None:
            model.stacker.save(staging / STACKER_FILE)
        description = {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "labels": list(EMOTIONS),
            "head": model.head,
            "n_cnns": len(model.cnns),
            "render_settings": model.render_settings.to_dict(),
            **model.info,
        }
        _write_json(staging / MODEL_FILE, description)
        _write_json(staging / "metrics.json", metrics)
        for name, content in (reports or {}).items():
            (staging / name).write_bytes(content)
        files = sorted(p.name for p in staging.iterdir())
        _write_json(staging / MANIFEST_FILE, {"files": {name: _sha256(staging / name) for name in files}})
        _sync_files(staging)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_description(model_dir: Path) -> dict:
    """model.json after checking the manifest: every listed file present and unaltered."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        # A save killed between _swap_into_place's two renames leaves the old model here.
        retired = sorted(model_dir.parent.glob(f".{glob.escape(model_dir.name)}.*.old"))
        hint = f" (an interrupted save left the previous model at {retired[-1]}: rename it back)" if retired else ""
        raise ModelError(f"{model_dir}: no such model directory{hint}")
    try:
        listed = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
        if not all(isinstance(name, str) and isinstance(digest, str) for name, digest in listed.items()):
            raise TypeError("manifest entries must be file names and digests")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelError(f"{model_dir}: not a ser-img model (missing or unreadable {MANIFEST_FILE})") from None
    for name, digest in sorted(listed.items()):
        path = model_dir / name
        if Path(name).name != name or not path.is_file():
            raise ModelError(f"{model_dir}: incomplete model ({name} is missing)")
        if _sha256(path) != digest:
            raise ModelError(f"{model_dir}: {name} does not match its checksum (altered or damaged)")
    if MODEL_FILE not in listed:
        raise ModelError(f"{model_dir}: incomplete model ({MODEL_FILE} is not in the manifest)")
    description = json.loads((model_dir / MODEL_FILE).read_text(encoding="utf-8"))
    if description.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{model_dir}: model format {description.get('format_version')} is not supported "
                         f"by ser-img {__version__} (expects {FORMAT_VERSION})")
    if description.get("labels") != list(EMOTIONS):
        raise ModelError(f"{model_dir}: its classes {description.get('labels')} are not ser-img's")
    if description.get("head") not in HEAD_MEMBERS:
        raise ModelError(f"{model_dir}: unknown head {description.get('head')!r}")
    description["files"] = sorted(listed)
    return description


def load_model(model_dir: Path, cnn_threads: int | None = None) -> EmotionModel:
    """The model at `model_dir`, checked; `cnn_threads` caps each CNN's LiteRT threads."""
    model_dir = Path(model_dir)
    description = read_description(model_dir)
    head = description["head"]
    folds = range(description.get("n_cnns", 0))
    required = [f"cnn_{i}.tflite" for i in folds] + [head_file(n, i) for i in folds for n in HEAD_MEMBERS[head]]
    required += [STACKER_FILE] if head == "stack" else []
    unchecked = sorted(set(required) - set(description["files"]))
    if not required[:1] or unchecked:
        raise ModelError(f"{model_dir}: incomplete model ({', '.join(unchecked) or 'no CNN'} not in the manifest)")
    try:
        cnns = [LiteCnn((model_dir / f"cnn_{i}.tflite").read_bytes(), len(EMOTIONS), cnn_threads) for i in folds]
        heads = [{name: HEADS[name].load(model_dir / head_file(name, i)) for name in HEAD_MEMBERS[head]}
                 for i in folds]
        stacker = DenseHead.load(model_dir / STACKER_FILE) if head == "stack" else None
        settings = RenderSettings.from_dict(description["render_settings"])
    except (OSError, ValueError, KeyError, UsageError) as exc:
        raise ModelError(f"{model_dir}: cannot load model ({exc})") from None
    info = {k: v for k, v in description.items() if k not in ("render_settings", "files")}
    info.setdefault("name", model_dir.name)
    return EmotionModel(head=head, render_settings=settings, cnns=cnns, heads=heads, stacker=stacker, info=info)


def find_default_model(artifacts: Path = Path("artifacts")) -> Path | None:
    """The newest model directory directly under `artifacts`, else the packaged one, else None."""
    candidates = [p for p in Path(artifacts).glob(f"*/{MODEL_FILE}") if not p.parent.name.startswith(".")]
    if candidates:
        return max(candidates, key=lambda p: p.stat().st_mtime).parent
    return PACKAGED_MODEL if (PACKAGED_MODEL / MODEL_FILE).is_file() else None
