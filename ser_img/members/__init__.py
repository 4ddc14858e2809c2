"""The ensemble's members: the CNN on spectrogram images, the heads on its embedding and the
regressions on feature vectors, and the member registry that names them. Builds on `features`.
"""
