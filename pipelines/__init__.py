"""The jobs: render, train, evaluate, predict and the demo, composed from ser_img's blocks.

Pipelines log to the ``ser_img`` logger and report progress through the one progress protocol
(``ser_img.scoring.progress``: ``progress(items, total, label)`` gives back the same items);
they never print. Results come back as plain data for the CLI to show.
"""

from ser_img.runtime.parallel import single_threaded_blas  # noqa: F401  (benchmarks import it from here)
from ser_img.scoring.progress import Progress, no_progress  # noqa: F401  (the jobs import them from here)
