"""Loading a model: the checked directory back into an `EmotionModel`, and where the default
model is (the newest under ./artifacts, else the one shipped in the package).
Nothing is unpickled: NumPy archives load with allow_pickle=False; TensorFlow is not loaded.
"""

from __future__ import annotations

from pathlib import Path

from ser_img.ensemble.model import EmotionModel, FoldModel
from ser_img.errors import ModelError, UsageError
from ser_img.features.spectrogram import RenderSettings
from ser_img.labels import EMOTIONS
from ser_img.members.heads import DenseHead
from ser_img.members.registry import CNN, REGISTRY, needs_cnn
from ser_img.runtime.lite import LiteCnn
from ser_img.store.manifest import MODEL_FILE, STACKER_FILE, check_extractor_files, member_file, read_description

PACKAGED_MODEL = Path(__file__).resolve().parent.parent / "default_model"  # the RAVDESS model shipped in the package


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
    check_extractor_files(model_dir, description, settings)
    info = {k: v for k, v in description.items() if k not in ("render_settings", "files", "extractor_files")}
    info.setdefault("name", model_dir.name)
    return EmotionModel(head=head, render_settings=settings, folds=fold_models, stacker=stacker, info=info)


def find_default_model(artifacts: Path = Path("artifacts")) -> Path | None:
    """The newest model directory directly under `artifacts`, else the packaged one, else None."""
    candidates = [p for p in Path(artifacts).glob(f"*/{MODEL_FILE}") if not p.parent.name.startswith(".")]
    if candidates:
        return max(candidates, key=lambda p: p.stat().st_mtime).parent
    return PACKAGED_MODEL if (PACKAGED_MODEL / MODEL_FILE).is_file() else None
