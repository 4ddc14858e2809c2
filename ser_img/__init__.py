"""ser-img: speech emotion recognition from mel-spectrogram images.

Building blocks only: nothing in this package prints, and nothing heavy
(TensorFlow, XGBoost, LightGBM) is imported until it is needed.
"""

__version__ = "0.1.0"

__all__ = ["EmotionRecognizer", "Recognition", "__version__"]


def __getattr__(name: str):
    """`from ser_img import EmotionRecognizer` without importing anything heavy up front."""
    if name in ("EmotionRecognizer", "Recognition"):
        from . import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'ser_img' has no attribute {name!r}")
