"""ser-img: speech emotion recognition from mel-spectrogram images.

Building blocks only: nothing in this package prints, and nothing heavy
(TensorFlow, XGBoost, LightGBM) is imported until it is needed.
"""

from ser_img.version import __version__

__all__ = ["EmotionRecognizer", "Recognition", "__version__"]


def __getattr__(name: str):
    """`from ser_img import EmotionRecognizer` without importing anything heavy up front."""
    if name in ("EmotionRecognizer", "Recognition"):
        from ser_img import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'ser_img' has no attribute {name!r}")
