"""The jobs: render, train, evaluate, predict and the demo, composed from ser_img's blocks.

Pipelines log to the ``ser_img`` logger and report progress through a callback; they
never print. Results come back as plain data for the CLI to show.
"""

from collections.abc import Callable, Iterable
from typing import Any

from ser_img.runtime.parallel import single_threaded_blas  # noqa: F401  (benchmarks import it from here)

# progress(iterable, total, label) -> iterable yielding the same items
Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]


def no_progress(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    return items
