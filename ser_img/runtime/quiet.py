"""Silencing native libraries that write straight to the process's stdout/stderr."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def muted(*fds: int):
    """Silence file descriptors, not just Python's streams: TensorFlow's C++ logging ignores
    TF_CPP_MIN_LOG_LEVEL at start-up, the TFLite converter prints pages of it, and LiteRT
    announces its CPU delegate on every interpreter."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(devnull, fd)
    try:
        yield
    finally:
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)
