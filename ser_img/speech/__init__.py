"""Where the speech is: the voice detector (Silero VAD in NumPy) and the segmenters chosen by name.
Builds on `audio`; imports nothing above it.
"""
