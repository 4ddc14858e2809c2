"""The 2D CNN on spectrogram images; its penultimate layer is the embedding."""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from .quiet import muted


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

from .settings import CnnSettings  # noqa: E402

EMBEDDING_LAYER = "embedding"


def seed_everything(seed: int) -> None:
    """Same seed, same weights: Python, NumPy and TensorFlow seeds plus deterministic ops."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_cnn(height: int, width: int, n_classes: int, settings: CnnSettings) -> keras.Model:
    inputs = keras.Input((height, width, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
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
    model = build_cnn(images.shape[1], images.shape[2], n_classes, settings)
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
