"""Whisper tiny.en's conv stem and first three blocks as an int8 LiteRT model (issue 25).

    pip install -e '.[train]'    # TensorFlow converts; prediction never imports it
    python tools/convert_whisper_lite.py

Reads the encoder weights ser-img already ships (`ser_img/encoders/whisper_tiny_en_encoder.npz`,
see tools/convert_whisper_tiny.py for their origin and licence), writes the same network as
ser_img.features.whisper's NumPy port (Whisper's log-mel in, the outputs of blocks 1-3 out,
padding masked by each clip's frame count) as a TensorFlow graph, and converts it with
LiteRT's dynamic-range quantisation: the weights of every matrix product are stored as int8
with a scale per output channel, and the activations are quantised on the fly. It runs in
`ai-edge-litert` (already a dependency, for the CNNs) about three times as fast as the NumPy
port on one core; what that changes in the features and the predictions is measured in
docs/results.md ("Whisper in int8").

Writes `ser_img/encoders/whisper_tiny_en_blocks123_int8.tflite` and records its sha256 in
`ORIGIN-whisper-tiny-en.json`. The converter is deterministic for a given TensorFlow version.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ser_img.features import whisper  # noqa: E402

LAST_BLOCK = 3
ORIGIN = ROOT / "ser_img" / "encoders" / "ORIGIN-whisper-tiny-en.json"


def graph(encoder: whisper.WhisperEncoder):
    """A tf.function of (mel (batch, frames, 80), frames (batch,)) -> outputs of blocks 1-3."""
    import tensorflow as tf

    def conv(x, weight, bias, stride):
        kernel = weight.reshape(weight.shape[0], -1, 3).transpose(2, 1, 0)  # (3, in, out)
        x = tf.pad(x, [[0, 0], [1, 1], [0, 0]])
        return tf.nn.conv1d(x, tf.constant(kernel), stride=stride, padding="VALID") + bias

    def layer_norm(x, gamma, beta):
        centred = x - tf.reduce_mean(x, -1, keepdims=True)
        variance = tf.reduce_mean(centred * centred, -1, keepdims=True)
        return centred * tf.math.rsqrt(variance + whisper.LAYER_NORM_EPS) * gamma + beta

    def linear(x, weight, bias):
        return tf.matmul(x, tf.constant(weight.T)) + bias

    def valid(steps, lengths):  # (batch, steps) booleans; expand_dims: LiteRT has no new-axis slices
        return tf.expand_dims(tf.range(steps), 0) < tf.expand_dims(lengths, 1)

    @tf.function(input_signature=[tf.TensorSpec([None, None, whisper.N_MELS], tf.float32, name="mel"),
                                  tf.TensorSpec([None], tf.int32, name="frames")])
    def blocks(mel, frames):  # a tuple: LiteRT names the outputs Identity, Identity_1, Identity_2
        x = tf.nn.gelu(conv(mel, *encoder.conv1, 1), approximate=False)
        x = x * tf.expand_dims(tf.cast(valid(tf.shape(x)[1], frames), tf.float32), 2)
        x = tf.nn.gelu(conv(x, *encoder.conv2, 2), approximate=False)
        batch, steps = tf.shape(x)[0], tf.shape(x)[1]
        x = x + tf.constant(encoder.positions)[:steps]
        keys = valid(steps, (frames - 1) // 2 + 1)
        mask = tf.reshape(tf.where(keys, 0.0, -1e9), [batch, 1, 1, steps])
        outputs = []
        for w in encoder.blocks[:LAST_BLOCK]:
            normed = layer_norm(x, w["self_attention_layer_norm_gamma"], w["self_attention_layer_norm_beta"])
            qkv = linear(normed, w["self_attention_linear_0_weight"], w["self_attention_linear_0_bias"])
            qkv = tf.transpose(tf.reshape(qkv, [batch, steps, 3, whisper.HEADS, whisper.HEAD_WIDTH]), [2, 0, 3, 1, 4])
            scores = tf.matmul(qkv[0] * whisper.HEAD_WIDTH ** -0.5, qkv[1], transpose_b=True) + mask
            context = tf.matmul(tf.nn.softmax(scores, -1), qkv[2])
            merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, steps, whisper.WIDTH])
            x = x + linear(merged, w["self_attention_linear_1_weight"], w["self_attention_linear_1_bias"])
            normed = layer_norm(x, w["ffn_layer_norm_gamma"], w["ffn_layer_norm_beta"])
            hidden = tf.nn.gelu(linear(normed, w["ffn_linear_0_weight"], w["ffn_linear_0_bias"]), approximate=False)
            x = x + linear(hidden, w["ffn_linear_1_weight"], w["ffn_linear_1_bias"])
            outputs.append(x)
        return tuple(outputs)

    return blocks


def convert() -> bytes:
    import tensorflow as tf

    function = graph(whisper.WhisperEncoder())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float activations
    return converter.convert()


def main() -> None:
    flatbuffer = convert()
    whisper.LITE_WEIGHTS.write_bytes(flatbuffer)
    origin = json.loads(ORIGIN.read_text(encoding="utf-8"))
    origin["int8_blocks"] = {
        "file": whisper.LITE_WEIGHTS.name,
        "sha256": hashlib.sha256(flatbuffer).hexdigest(),
        "made_by": "tools/convert_whisper_lite.py from whisper_tiny_en_encoder.npz: conv stem and blocks 1-3, "
                   "LiteRT dynamic-range quantisation (int8 weights per output channel)",
    }
    ORIGIN.write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {whisper.LITE_WEIGHTS} ({len(flatbuffer) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
