"""Audio in: decoding any file or stream, resampling, reading in blocks, simulated channels
(telephone), input quality, and the signal arithmetic (frames, spectra, mel filters) every layer above
builds on. Imports nothing from the layers above it (speech, features, members, ...).
"""
