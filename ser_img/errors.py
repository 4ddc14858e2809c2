"""Expected failures, each with the exit code the CLI documents."""


class SerImgError(Exception):
    """A failure the user can act on; its message is one line for people."""

    exit_code = 1


class UsageError(SerImgError):
    """Wrong arguments or an input that cannot be used for the job asked."""

    exit_code = 2


class TooFewSpeakersError(UsageError):
    """Training data from fewer speakers than speaker-grouped training needs."""


class AudioError(SerImgError):
    """One audio file could not be read or used."""

    exit_code = 1


class SilentAudio(AudioError):
    """A recording with no sound at all (digital silence). Training cannot use it; the
    recognizer answers it with the outcome "no speech" like any other audio without speech."""

    def __init__(self, message: str, duration_s: float = 0.0):
        super().__init__(message)
        self.duration_s = duration_s


class DecodeError(AudioError):
    """The bytes are not audio this decoder can read (corrupt, truncated or another format)."""


class ModelError(SerImgError):
    """A model directory is missing, incomplete, altered or incompatible."""

    exit_code = 3


class ClusterError(UsageError):
    """A Dask cluster that cannot be reached or used (a worker without ser-img, say)."""

    exit_code = 2


class NoModelError(ModelError):
    """No model was named and none is installed or trained."""
