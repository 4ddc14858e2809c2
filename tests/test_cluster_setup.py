"""A Dask worker lost while a cluster run sets up (issue 17, item 7): the workers that remain
carry the run. The loss is staged with a stand-in client that fails the way Dask's does
(a CommClosedError from a closed connection), so the test is exact and needs no timing."""

import logging
import os

import pytest

pytest.importorskip("distributed")

from distributed.comm.core import CommClosedError  # noqa: E402

from pipelines.cluster import client as cluster  # noqa: E402
from ser_img.errors import ClusterError  # noqa: E402


class _Cluster:
    """Two workers; `lose_on` names the call during which the second one is SIGKILLed."""

    def __init__(self, lose_on: str | None = None):
        self.workers = {"tcp://127.0.0.1:1001": {}, "tcp://127.0.0.1:1002": {}}
        self.lose_on = lose_on
        self.calls: dict[str, int] = {}
        self.registered = self.scattered = None

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if name == self.lose_on and self.calls[name] == 1:
            self.workers.pop("tcp://127.0.0.1:1002", None)
            raise CommClosedError(f"in <TCP (closed) ConnectionPool.{name} local=tcp://127.0.0.1:5 "
                                  "remote=tcp://127.0.0.1:8786>: Stream is closed")

    def scheduler_info(self):
        return {"workers": dict(self.workers)}

    def run(self, probe, on_error="raise"):
        self._call("run")
        return {worker: "" for worker in self.workers}

    def register_worker_callbacks(self, setup):
        self._call("register_worker_plugin")
        self.registered = sorted(self.workers)

    def scatter(self, data, broadcast=False):
        self._call("scatter")
        self.scattered = sorted(self.workers)
        return "future"


@pytest.mark.parametrize("step", ["run", "register_worker_plugin"])
def test_a_worker_lost_during_setup_leaves_the_others_to_carry_on(step, caplog):
    client = _Cluster(lose_on=step)
    with caplog.at_level(logging.WARNING, logger="ser_img"):
        cluster.set_up_workers(client)
    assert client.registered == ["tcp://127.0.0.1:1001"]  # set up on the worker that remains
    assert client.calls[step] == 2 and "carrying on with the 1 left" in caplog.text


def test_a_worker_lost_while_the_model_is_broadcast_is_survived():
    client = _Cluster(lose_on="scatter")
    assert cluster.broadcast(client, b"model") == "future"
    assert client.scattered == ["tcp://127.0.0.1:1001"]


def test_a_worker_lost_while_it_is_checked_is_left_out(caplog):
    client = _Cluster()
    gone = CommClosedError("in <TCP (closed) ConnectionPool.run>")
    client.run = lambda probe, on_error: {"tcp://127.0.0.1:1001": "", "tcp://127.0.0.1:1002": gone}
    with caplog.at_level(logging.WARNING, logger="ser_img"):
        cluster.check_workers(client)
    assert "tcp://127.0.0.1:1002 was lost while being checked" in caplog.text


def test_losing_every_worker_or_a_real_failure_still_stops_the_run(monkeypatch):
    monkeypatch.setattr(cluster, "SETUP_TRIES", 2)
    client = _Cluster(lose_on="scatter")
    client.workers.clear()
    with pytest.raises(ClusterError, match="sending the model failed: workers were lost .* 0 left"):
        cluster.despite_lost_workers(client, lambda: client.scatter(b"x", broadcast=True), "sending the model",
                                     pause_s=0)

    def broken():
        raise ValueError("the plugin cannot be pickled")

    with pytest.raises(ClusterError, match="^setting up the workers failed: the plugin cannot be pickled$"):
        cluster.despite_lost_workers(_Cluster(), broken, "setting up the workers", pause_s=0)


def test_model_folders_of_killed_workers_are_removed_by_the_next_worker(tmp_path):
    import subprocess
    import sys

    from pipelines.cluster.worker import MODEL_FOLDER_PREFIX, remove_stale_model_folders

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"{MODEL_FOLDER_PREFIX}{gone.pid}-abc"
    live = tmp_path / f"{MODEL_FOLDER_PREFIX}{os.getpid()}-def"
    other = tmp_path / f"{MODEL_FOLDER_PREFIX}xyz"  # not of this form: left alone
    for folder in (stale, live, other):
        (folder / "model").mkdir(parents=True)
    remove_stale_model_folders(tmp_path)
    assert not stale.exists() and live.exists() and other.exists()
