"""Models on disk: the directory's layout and checks (`manifest`), saving (`save`), loading and
the default model (`load`), and the model card (`card`).
Builds on `ensemble` and `corpus`.
"""
