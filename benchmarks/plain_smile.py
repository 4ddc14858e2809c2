"""The classic way's feature step: openSMILE's ComParE 2016 functionals of a file.

What a user who picks the classic recogniser runs before any classifier (6,373 values a
clip, `opensmile.Smile.process_file`, which reads and resamples the file itself). The
benchmark runs it with one process per core on the same files as `ser-img predict`.
"""

import functools


@functools.lru_cache(maxsize=1)
def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                           feature_level=opensmile.FeatureLevel.Functionals)


def smile_functionals(path: str) -> int:
    """The number of functionals computed for the file (6,373)."""
    return _smile().process_file(path).shape[1]
