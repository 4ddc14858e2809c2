"""Labelled audio on disk: file-name parsers, clip lists, rendered image folders and their
manifest, and the synthetic voices of the demo. Builds on `features`.
"""
