"""`predict` and `render` on a Dask cluster, and predictions into a resumable Parquet dataset.

The client finds the files, sends the model to the workers once (its files' bytes, checked
against the model's manifest on both sides) and submits batches of paths; each worker
loads the model once per process and scores its batches with the recognizer (`recognize_paths`), the code
path of a local run, so the answers are the same. Only the client writes results, one
Parquet part per finished batch, so a task that Dask runs again after a worker died can
never add a second row. Audio paths (and render's output folder) must be on a filesystem
that every worker sees.

  client    connecting, Dask's configuration, setting up and checking workers, lost-worker retries
  worker    the model bundle, the worker's model cache, score_batch (one task)
  jobs      predict_on_cluster, render_on_cluster, predict_to_parquet
  parquet   the resumable Parquet dataset: its columns, its rows, ParquetResults

Dask is imported only in `client` and only when a cluster is asked for: `pip install 'ser-img[cluster]'`.
"""

from .client import check_workers, connect
from .jobs import FILES_PER_TASK, ParquetReport, predict_on_cluster, predict_to_parquet, render_on_cluster
from .parquet import ParquetResults
from .worker import ModelBundle, bundle_model, score_batch, worker_model

__all__ = ["FILES_PER_TASK", "ModelBundle", "ParquetReport", "ParquetResults", "bundle_model", "check_workers",
           "connect", "predict_on_cluster", "predict_to_parquet", "render_on_cluster", "score_batch",
           "worker_model"]
