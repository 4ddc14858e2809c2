"""What the members read: the spectrogram image, the acoustic descriptors, the pretrained voice
encoder, openSMILE functionals, and the extractor registry that computes them from one trimmed
signal. Builds on `audio` and `speech`.
"""
