"""Convert Silero VAD's 16-kHz model (PyPI `silero-vad` 6.2.3, MIT) into ser-img's pickle-free format.

Run once, in a throwaway environment with the `onnx` package (never a dependency of ser-img):

    pip download --no-deps silero-vad==6.2.3 -d /tmp/vad
    python -m venv /tmp/onnxenv && /tmp/onnxenv/bin/pip install onnx numpy
    /tmp/onnxenv/bin/python tools/convert_silero_vad.py /tmp/vad/silero_vad-6.2.3-py3-none-any.whl

It reads the 16-kHz ONNX model, the one the package's own ONNX and TorchScript paths give
the same answers as (the wheel's safetensors copy holds different weights: its outputs differ
from the ONNX model's by up to 0.6, so it is not used).

It writes `ser_img/encoders/silero_vad_16k.npz` (float32 arrays, loaded by ser_img.speech.vad with
allow_pickle=False), the wheel's licence as `LICENSE-silero-vad` and `ORIGIN-silero-vad.json`
(wheel and weights sha256).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "silero_vad-6.2.3-py3-none-any.whl"
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
WEIGHTS = "silero_vad/data/silero_vad_16k_op15.onnx"
# The ONNX initializers, in graph order, under the names ser_img.speech.vad reads.
NAMES = ["stft_conv_weight", "conv1_weight", "conv1_bias", "conv2_weight", "conv2_bias", "conv3_weight",
         "conv3_bias", "conv4_weight", "conv4_bias", "lstm_cell_weight_ih", "lstm_cell_weight_hh",
         "lstm_cell_bias_ih", "lstm_cell_bias_hh", "final_conv_weight", "final_conv_bias"]
OUT = Path(__file__).resolve().parent.parent / "ser_img" / "encoders"


def read_onnx(raw: bytes) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    initializers = onnx.load_from_string(raw).graph.initializer
    if len(initializers) != len(NAMES):
        sys.exit(f"{WEIGHTS}: {len(initializers)} initializers, expected {len(NAMES)}")
    return {name: numpy_helper.to_array(i).astype(np.float32) for name, i in zip(NAMES, initializers)}


def main(wheel: str) -> None:
    raw_wheel = Path(wheel).read_bytes()
    digest = hashlib.sha256(raw_wheel).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest} is not {WHEEL}")
    with zipfile.ZipFile(io.BytesIO(raw_wheel)) as archive:
        weights = archive.read(WEIGHTS)
        licence = archive.read("silero_vad-6.2.3.dist-info/licenses/LICENSE")
    arrays = read_onnx(weights)
    target = OUT / "silero_vad_16k.npz"
    np.savez(target, **arrays)
    (OUT / "LICENSE-silero-vad").write_bytes(licence)
    origin = {"package": "silero-vad", "version": "6.2.3", "licence": "MIT", "wheel": WHEEL,
              "wheel_sha256": digest, "weights_file": WEIGHTS,
              "weights_sha256": hashlib.sha256(weights).hexdigest(),
              "converted_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
              "arrays": {name: list(a.shape) for name, a in arrays.items()}}
    (OUT / "ORIGIN-silero-vad.json").write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
