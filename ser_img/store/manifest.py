"""A model directory's layout and its checks: which file holds what, the manifest of SHA-256
digests, model.json, and the data files the extractors read.

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
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

from ser_img.errors import ModelError
from ser_img.features.extractors import active_extractors
from ser_img.features.spectrogram import RenderSettings
from ser_img.labels import EMOTIONS
from ser_img.members.registry import CNN, HEADS, REGISTRY
from ser_img.runtime.files import sha256_file
from ser_img.version import __version__

FORMAT_VERSION = 4  # 4: member registry, voice-encoder member, optional CNNs, several corpora
MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
STACKER_FILE = "stacker.npz"


def member_file(name: str, fold: int, part: int | None = None) -> str:
    """File of a member: "cnn" and the embedding heads per fold and CNN, the others per fold."""
    if name == CNN:
        return f"cnn_{fold}_{part}.tflite"
    return REGISTRY[name].file(fold, part)


def extractor_files(settings: RenderSettings) -> dict[str, str]:
    """SHA-256 of the data files the model's extractors read (the voice encoder's weights):
    they ship in the package, and a model must find exactly those it was trained with, on
    this machine and on every cluster worker."""
    return {f"{path.parent.name}/{path.name}": sha256_file(path)
            for extractor in active_extractors(settings) for path in extractor.files(settings)}


def check_extractor_files(model_dir: Path, description: dict, settings: RenderSettings) -> None:
    expected = description.get("extractor_files", {})
    found = extractor_files(settings)
    for name, digest in expected.items():
        if found.get(name) != digest:
            raise ModelError(f"{model_dir}: it was trained with {name} {digest[:12]}, but this ser-img "
                             f"{__version__} has {(found.get(name) or 'none')[:12]}: install the version it was made with")


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
