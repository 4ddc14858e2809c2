"""Convert resemblyzer 0.1.4's pretrained GE2E voice encoder into ser-img's pickle-free format.

Run once, in a throwaway environment that has PyTorch (never a dependency of ser-img):

    pip download --no-deps resemblyzer==0.1.4 -d /tmp/rz
    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python tools/convert_resemblyzer.py /tmp/rz/Resemblyzer-0.1.4-py3-none-any.whl

It reads `resemblyzer/pretrained.pt` from the wheel (a legacy PyTorch pickle, read by
PyTorch with weights_only=True) and writes `ser_img/encoders/ge2e_resemblyzer.npz`: the
LSTM and linear weights as float32 arrays, loaded by ser_img.features.encoder with
allow_pickle=False, and `ser_img/encoders/ORIGIN.json` (wheel and weights sha256).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
OUT = Path(__file__).resolve().parent.parent / "ser_img" / "encoders"


def main(wheel: str) -> None:
    raw_wheel = Path(wheel).read_bytes()
    digest = hashlib.sha256(raw_wheel).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest} is not resemblyzer 0.1.4's wheel")
    with zipfile.ZipFile(io.BytesIO(raw_wheel)) as archive:
        weights = archive.read("resemblyzer/pretrained.pt")
        licence = archive.read("Resemblyzer-0.1.4.dist-info/LICENSE")
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)["model_state"]
    arrays = {name.replace(".", "_"): tensor.numpy().astype(np.float32) for name, tensor in state.items()
              if name.startswith(("lstm.", "linear."))}
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(OUT / "ge2e_resemblyzer.npz", **arrays)
    (OUT / "LICENSE-resemblyzer").write_bytes(licence)
    origin = {"package": "resemblyzer", "version": "0.1.4", "licence": "Apache-2.0",
              "wheel": "Resemblyzer-0.1.4-py3-none-any.whl", "wheel_sha256": digest,
              "weights_file": "resemblyzer/pretrained.pt", "weights_sha256": hashlib.sha256(weights).hexdigest(),
              "converted_sha256": hashlib.sha256((OUT / "ge2e_resemblyzer.npz").read_bytes()).hexdigest(),
              "arrays": {k: list(v.shape) for k, v in arrays.items()}}
    (OUT / "ORIGIN.json").write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(origin["arrays"]))


if __name__ == "__main__":
    main(sys.argv[1])
