"""ser-img: speech emotion recognition from mel-spectrogram images.

Building blocks only: nothing in this package prints, and nothing heavy
(TensorFlow, XGBoost, LightGBM) is imported until it is needed.
"""

__version__ = "0.1.0"
