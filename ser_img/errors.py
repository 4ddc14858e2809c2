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
