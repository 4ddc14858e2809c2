"""The trained model: per fold, its CNNs, members and the stacker, saved as a checked directory.

Directory layout (every file listed with its SHA-256 in manifest.json):
  model.json        labels, head, members, render and training settings, versions
  cnn_K_P.tflite    fold K's CNN P (a TensorFlow Lite flatbuffer, run by LiteRT at inference)
  mlp_K_P.npz, xgb_K_P.ubj.gz, lgbm_K_P.txt.gz   the embedding heads paired with that CNN
  enc_K.npz, smile_K.npz, desc_K.npz             fold K's members with no CNN in them
  (file names come from the member registry, `members.REGISTRY`; a model holds only the
  members its stack gives weight, and CNNs only when a member needs them)
  stacker.npz                                    the calibrated vote, for head "stack"
  metrics.json, confusion.png, reliability.png   cross-validated figures
  oof.npz                                        out-of-fold probabilities behind those figures
Nothing in it is unpickled: NumPy archives load with allow_pickle=False; TensorFlow is not loaded.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_img.version import __version__
from ser_img.errors import ModelError, UsageError
from ser_img.features.extractors import active_extractors, feature_blocks, render_inputs
from ser_img.members.heads import DenseHead, stack_features
from ser_img.labels import EMOTIONS
from ser_img.runtime.files import sha256_file
from ser_img.runtime.lite import LiteCnn
from ser_img.members.registry import CNN, HEADS, REGISTRY, needs_cnn
from ser_img.features.spectrogram import RenderSettings

FORMAT_VERSION = 4  # 4: member registry, voice-encoder member, optional CNNs, several corpora
MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
STACKER_FILE = "stacker.npz"
PACKAGED_MODEL = Path(__file__).resolve().parent.parent / "default_model"  # the RAVDESS model shipped in the package
@dataclass
class FoldModel:
    """One speaker-grouped fold: cross-fitted CNNs, each with its embedding heads, and the
    members with no CNN in them."""

    cnns: list[LiteCnn] = field(default_factory=list)
    heads: list[dict] = field(default_factory=list)  # per CNN: head name -> head
    plain: dict = field(default_factory=dict)  # members with no CNN in them, by name

    def member_probabilities(self, images: np.ndarray, features: np.ndarray, blocks: dict,
                             members: list[str]) -> dict[str, np.ndarray]:
        """Probabilities of each member (in `members` order, "cnn" included when the model
        has CNNs)."""
        n = len(features)
        totals = {name: np.zeros((n, len(EMOTIONS))) for name in members}
        for cnn, heads in zip(self.cnns, self.heads):
            embeddings, probs = cnn.outputs(images)
            if CNN in totals:
                totals[CNN] += probs / len(self.cnns)
            for name, head in heads.items():
                totals[name] += head.predict_proba(REGISTRY[name].inputs(embeddings, features, blocks)) / len(self.cnns)
        for name, member in self.plain.items():
            totals[name] = member.predict_proba(REGISTRY[name].inputs(None, features, blocks))
        return totals


@dataclass
class EmotionModel:
    head: str
    render_settings: RenderSettings
    folds: list[FoldModel]
    stacker: DenseHead | None = None
    info: dict = field(default_factory=dict)  # training settings, members, metrics summary, versions

    @property
    def members(self) -> list[str]:
        """Every member the model holds, "cnn" first when it has CNNs: the stack's input order."""
        return list(self.info.get("members", [CNN]))

    def member_probabilities(self, images: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        """Class probabilities of each member the model holds and the stack, averaged over the
        folds. The stack combines each fold's own members (a model holds only those the
        stack weighs: training leaves out the rest)."""
        blocks = feature_blocks(self.render_settings)
        totals: dict[str, np.ndarray] = {}
        for fold in self.folds:
            members = fold.member_probabilities(images, features, blocks, self.members)
            if self.stacker is not None:
                members["stack"] = self.stacker.predict_proba(stack_features(list(members.values())))
            for name, probs in members.items():
                totals[name] = totals.get(name, 0.0) + probs / len(self.folds)
        return totals

    def predict_proba(self, images: np.ndarray, features: np.ndarray) -> np.ndarray:
        members = self.member_probabilities(images, features)
        return members["stack" if self.head == "stack" else self.head]

    def predict_signals(self, signals: list[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 8) for mono float32 clips at `render_settings.sample_rate`.

        The one entry point from audio to probabilities: every caller goes through it (or
        through `render_inputs` then `predict_prepared`, to render elsewhere: in worker
        processes, or once for both the scores and the image shown to a user).
        """
        return self.predict_prepared([render_inputs(s, self.render_settings) for s in signals])

    def predict_prepared(self, prepared: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Probabilities for clips already turned into (image, features) by `render_inputs`."""
        if not prepared:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float64)
        images, features = zip(*prepared)
        return self.predict_proba(np.stack(images), np.stack(features))

    @property
    def name(self) -> str:
        return self.info.get("name", "model")


def member_file(name: str, fold: int, part: int | None = None) -> str:
    """File of a member: "cnn" and the embedding heads per fold and CNN, the others per fold."""
    if name == CNN:
        return f"cnn_{fold}_{part}.tflite"
    return REGISTRY[name].file(fold, part)


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


def extractor_files(settings: RenderSettings) -> dict[str, str]:
    """SHA-256 of the data files the model's extractors read (the voice encoder's weights):
    they ship in the package, and a model must find exactly those it was trained with, on
    this machine and on every cluster worker."""
    return {f"{path.parent.name}/{path.name}": sha256_file(path)
            for extractor in active_extractors(settings) for path in extractor.files}


def _check_extractor_files(model_dir: Path, description: dict, settings: RenderSettings) -> None:
    expected = description.get("extractor_files", {})
    found = extractor_files(settings)
    for name, digest in expected.items():
        if found.get(name) != digest:
            raise ModelError(f"{model_dir}: it was trained with {name} {digest[:12]}, but this ser-img "
                             f"{__version__} has {(found.get(name) or 'none')[:12]}: install the version it was made with")


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
        if sha256_file(path) != digest:
            raise ModelError(f"{model_dir}: {name} does not match its checksum (altered or damaged)")
    if MODEL_FILE not in listed:
        raise ModelError(f"{model_dir}: incomplete model ({MODEL_FILE} is not in the manifest)")
    description = json.loads((model_dir / MODEL_FILE).read_text(encoding="utf-8"))
    if description.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{model_dir}: model format {description.get('format_version')} is not supported "
                         f"by ser-img {__version__} (expects {FORMAT_VERSION})")
    if description.get("labels") != list(EMOTIONS):
        raise ModelError(f"{model_dir}: its classes {description.get('labels')} are not ser-img's")
    if description.get("head") not in HEADS:
        raise ModelError(f"{model_dir}: unknown head {description.get('head')!r}")
    description["files"] = sorted(listed)
    return description


def load_model(model_dir: Path, cnn_threads: int | None = None) -> EmotionModel:
    """The model at `model_dir`, checked; `cnn_threads` caps each CNN's LiteRT threads."""
    model_dir = Path(model_dir)
    description = read_description(model_dir)
    head = description["head"]
    members = list(description.get("members", []))
    unknown = [m for m in members if m != CNN and m not in REGISTRY]
    if unknown or not members:
        raise ModelError(f"{model_dir}: unknown members {unknown or 'none'} (made by another ser-img version?)")
    folds = range(description.get("n_folds", 0))
    embedding = [m for m in members if m != CNN and REGISTRY[m].with_cnn]
    plain = [m for m in members if m != CNN and not REGISTRY[m].with_cnn]
    parts = range(description.get("cnns_per_fold", 0) if needs_cnn(members) else 0)
    required = [member_file(n, k, p) for k in folds for p in parts for n in [CNN, *embedding]]
    required += [member_file(n, k) for k in folds for n in plain] + ([STACKER_FILE] if head == "stack" else [])
    unchecked = sorted(set(required) - set(description["files"]))
    if not required[:1] or unchecked:
        raise ModelError(f"{model_dir}: incomplete model ({', '.join(unchecked) or 'no member'} not in the manifest)")
    try:
        fold_models = [FoldModel(
            cnns=[LiteCnn((model_dir / member_file(CNN, k, p)).read_bytes(), len(EMOTIONS), cnn_threads)
                  for p in parts],
            heads=[{n: REGISTRY[n].cls.load(model_dir / member_file(n, k, p)) for n in embedding} for p in parts],
            plain={n: REGISTRY[n].cls.load(model_dir / member_file(n, k)) for n in plain}) for k in folds]
        stacker = DenseHead.load(model_dir / STACKER_FILE) if head == "stack" else None
        settings = RenderSettings.from_dict(description["render_settings"])
    except (OSError, ValueError, KeyError, UsageError) as exc:
        raise ModelError(f"{model_dir}: cannot load model ({exc})") from None
    _check_extractor_files(model_dir, description, settings)
    info = {k: v for k, v in description.items() if k not in ("render_settings", "files", "extractor_files")}
    info.setdefault("name", model_dir.name)
    return EmotionModel(head=head, render_settings=settings, folds=fold_models, stacker=stacker, info=info)


def find_default_model(artifacts: Path = Path("artifacts")) -> Path | None:
    """The newest model directory directly under `artifacts`, else the packaged one, else None."""
    candidates = [p for p in Path(artifacts).glob(f"*/{MODEL_FILE}") if not p.parent.name.startswith(".")]
    if candidates:
        return max(candidates, key=lambda p: p.stat().st_mtime).parent
    return PACKAGED_MODEL if (PACKAGED_MODEL / MODEL_FILE).is_file() else None
