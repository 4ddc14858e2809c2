"""Models on disk: saving and loading (native formats, manifest, checksums) and the model card.
Builds on `ensemble` and `corpus`.
"""
