"""The 2D CNN on spectrogram images; its penultimate layer is the embedding."""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from ser_img.runtime.quiet import muted


def _import_tensorflow_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with muted(2):
        import keras
        import tensorflow
    # "N out of the last M calls ... triggered tf.function retracing": each fold builds a new
    # model, which is expected; the warning only clutters the training log.
    tensorflow.get_logger().setLevel("ERROR")
    return keras, tensorflow


keras, tf = _import_tensorflow_quietly()

from ser_img.members.settings import CnnSettings  # noqa: E402

EMBEDDING_LAYER = "embedding"


def seed_everything(seed: int) -> None:
    """Same seed, same weights: Python, NumPy and TensorFlow seeds plus deterministic ops."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class RandomWarp(keras.layers.Layer):
    """New voices from old ones, in training only: each image's mel axis is stretched by a
    random factor (vocal-tract-length perturbation: formants and pitch move up or down
    together, anchored at the lowest band) and its time axis by another (tempo).
    Edges are extended by repeating the last row/column, so no artificial border appears.
    """

    def __init__(self, freq: float, time: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.freq, self.time, self.seed = freq, time, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        height, width = images.shape[1], images.shape[2]
        pad_y, pad_x = height // 4, width // 8
        padded = tf.concat([tf.repeat(images[:, :1], pad_y, axis=1), images], axis=1)
        padded = tf.concat([tf.repeat(padded[:, :, :1], pad_x, axis=2), padded,
                            tf.repeat(padded[:, :, -1:], pad_x, axis=2)], axis=2)
        n = tf.shape(images)[0]
        alpha = tf.exp(keras.random.uniform((n,), -self.freq, self.freq, seed=self.generator))
        beta = tf.exp(keras.random.uniform((n,), -self.time, self.time, seed=self.generator))
        big_h, big_w = height + pad_y, width + 2 * pad_x
        # Boxes in the padded image's normalised coordinates: bottom-anchored in frequency,
        # centred in time.
        y2 = tf.ones_like(alpha)
        y1 = 1.0 - (height / alpha) / big_h
        half = (width / beta) / (2.0 * big_w)
        x1, x2 = 0.5 - half, 0.5 + half
        boxes = tf.stack([y1, x1, y2, x2], axis=1)
        return tf.image.crop_and_resize(padded, boxes, tf.range(n), (height, width))

    def get_config(self):
        return {**super().get_config(), "freq": self.freq, "time": self.time, "seed": self.seed}


def build_cnn(height: int, width: int, n_classes: int, settings: CnnSettings, seed: int = 0) -> keras.Model:
    inputs = keras.Input((height, width, 3))
    x = inputs
    if settings.warp_freq or settings.warp_time:
        x = RandomWarp(settings.warp_freq, settings.warp_time, seed)(x)
    x = keras.layers.Rescaling(1.0 / 255)(x)
    for index, channels in enumerate(settings.channels):
        # A strided first layer: full-resolution convolutions cost most and add little.
        x = keras.layers.Conv2D(channels, 3, strides=2 if index == 0 else 1, padding="same", use_bias=False)(x)
        # momentum 0.9: the running statistics must settle within a few hundred steps.
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        if index > 0:
            x = keras.layers.MaxPooling2D(2)(x)
    # Average over time only: where energy sits in frequency (pitch, formants) is the signal.
    x = keras.layers.AveragePooling2D(pool_size=(1, x.shape[2]))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(settings.dropout)(x)
    embedding = keras.layers.Dense(settings.embedding_size, activation="relu", name=EMBEDDING_LAYER)(x)
    x = keras.layers.Dropout(settings.dropout)(embedding)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs)


def train_cnn(images: np.ndarray, labels: np.ndarray, n_classes: int, settings: CnnSettings,
              seed: int, sample_weight: np.ndarray | None = None) -> keras.Model:
    seed_everything(seed)
    model = build_cnn(images.shape[1], images.shape[2], n_classes, settings, seed)
    steps = settings.epochs * int(np.ceil(len(images) / settings.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=max(steps, 1))
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, sample_weight=sample_weight, epochs=settings.epochs,
              batch_size=settings.batch_size, shuffle=True, verbose=0)
    return model


def cnn_outputs(model: keras.Model, images: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, class probabilities) of a batch of uint8 RGB images."""
    both = keras.Model(model.input, [model.get_layer(EMBEDDING_LAYER).output, model.output])
    embeddings, probabilities = [], []
    for start in range(0, len(images), batch_size):
        e, p = both(images[start : start + batch_size], training=False)
        embeddings.append(np.asarray(e))
        probabilities.append(np.asarray(p))
    return np.concatenate(embeddings).astype(np.float32), np.concatenate(probabilities).astype(np.float64)


def to_tflite(model: keras.Model) -> bytes:
    """A TensorFlow Lite flatbuffer with one output: the embedding, then the probabilities."""
    joined = keras.layers.Concatenate(name="embedding_and_probabilities")(
        [model.get_layer(EMBEDDING_LAYER).output, model.output])
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(model.input, joined))
    # It also print()s every variable it captures, which --json output must not contain.
    with muted(1, 2), contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()
