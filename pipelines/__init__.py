"""The jobs: render, train, evaluate, predict and the demo, composed from ser_img's blocks.

Pipelines log to the ``ser_img`` logger and report progress through a callback; they
never print. Results come back as plain data for the CLI to show.
"""

from collections.abc import Callable, Iterable
from typing import Any

# progress(iterable, total, label) -> iterable yielding the same items
Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]


def no_progress(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    return items


def single_threaded_blas() -> None:
    """One BLAS thread per process: rendering's small matrix products run 4x slower when
    OpenBLAS spreads them over threads that the other worker processes also want."""
    import numpy  # noqa: F401  (loads OpenBLAS: a limit set before it loads limits nothing)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
