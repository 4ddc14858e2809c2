"""The jobs, composed from ser_img's blocks, between the CLI above and ser_img below.

  render, train, evaluate, predict, demo   the jobs the commands of the same name run
  serve/     the HTTP API and web page: upload, guards, jobs, app, settings, server
  cluster/   predict and render on Dask, predictions into Parquet: client, worker, jobs, parquet
  console    the CLI's terminal: progress bars, logging, errors as one line, exit codes
  tables     the text tables the CLI prints
  writers    answers as JSON Lines and CSV

Pipelines log to the ``ser_img`` logger and report progress through the one progress protocol
(``ser_img.scoring.progress``: ``progress(items, total, label)`` gives back the same items);
they never print (only `console`, the CLI's terminal, writes there). Results come back as
plain data for the CLI to show.
"""

from ser_img.runtime.parallel import single_threaded_blas  # noqa: F401  (benchmarks import it from here)
from ser_img.scoring.progress import Progress, no_progress  # noqa: F401  (the jobs import them from here)
