"""predict/render on a real Dask cluster on loopback, resumable Parquet results, a worker killed mid-run.

The cluster is Dask's own `dask scheduler` and two `dask worker` processes on 127.0.0.1.
Tests run in file order: the last one kills a worker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install 'ser-img[cluster]'")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed: pip install 'ser-img[cluster]'")

from cli import main  # noqa: E402
from ser_img.errors import ClusterError  # noqa: E402
from ser_img.labels import EMOTIONS  # noqa: E402
from ser_img.options import RecognizerOptions  # noqa: E402
from tests.conftest import TINY_RENDER, write_long_recording  # noqa: E402

BIN = Path(sys.executable).parent
QUIET = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "warning"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(args: list[str], log: Path) -> subprocess.Popen:
    """A process in a group of its own, so that a SIGKILL takes its children (a worker's nanny's) too."""
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=QUIET, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@contextmanager
def dask_cluster(logs: Path, workers: list[list[str]]):
    """Dask's own `dask scheduler` on loopback and one process per command in `workers`, each
    given the scheduler's address as its last argument: yields (address, worker processes)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    processes = [start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                       logs / "scheduler.log")]
    try:
        for number, command in enumerate(workers):
            processes.append(start([*command, address], logs / f"worker-{number}.log"))
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(len(workers), timeout=60)
        yield address, processes[1:]
    finally:
        for process in reversed(processes):
            kill(process)


WORKER = [str(BIN / "dask"), "worker", "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, [worker processes]): a scheduler and two single-thread workers."""
    with dask_cluster(tmp_path_factory.mktemp("dask-logs"), [WORKER, WORKER]) as running:
        yield running


@pytest.fixture(scope="module")
def archive(corpus, tmp_path_factory) -> Path:
    """194 files: the corpus four times over, a long recording and a file that is not audio."""
    root = tmp_path_factory.mktemp("archive")
    for copy in range(4):
        shutil.copytree(corpus, root / f"copy{copy}")
    write_long_recording(root / "long.wav")
    (root / "broken.wav").write_bytes(b"not audio at all")
    return root


def test_render_on_cluster_matches_local(cluster, corpus, images, tmp_path):
    from pipelines.cluster import render_on_cluster
    from ser_img.corpus.manifest import read_manifest

    report = render_on_cluster([corpus], tmp_path / "images", TINY_RENDER, cluster[0])
    assert report.rendered == 48 and not report.failures
    local = {row.source: row for row in read_manifest(images)}
    remote = {row.source: row for row in read_manifest(tmp_path / "images")}
    assert remote.keys() == local.keys()
    for source, row in remote.items():
        assert (row.image, row.label, row.sha256) == (local[source].image, local[source].label, local[source].sha256)
        assert (tmp_path / "images" / row.image).read_bytes() == (images / row.image).read_bytes()


def test_predict_on_cluster_prints_what_a_local_run_prints(cluster, corpus, stack_model):
    def predict(*options):
        result = CliRunner().invoke(main, ["predict", str(corpus / "Actor_01"), "--model", str(stack_model),
                                           "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    local, remote = predict(), predict("--scheduler", cluster[0], "--files-per-task", "5")
    assert [r["source"] for r in remote] == [r["source"] for r in local] and len(local) == 16
    for mine, theirs in zip(remote, local):
        assert mine["label"] == theirs["label"]
        assert max(abs(mine["probabilities"][e] - theirs["probabilities"][e]) for e in EMOTIONS) < 1e-6


def test_a_worker_that_cannot_import_or_read_is_named_in_one_line(cluster, tmp_path):
    from pipelines.cluster import check_workers

    with distributed.Client(cluster[0], timeout=30) as client:
        check_workers(client, readable=[tmp_path])  # all is well: no error
        with pytest.raises(ClusterError, match=r"^worker tcp://127\.0\.0\.1:\d+: cannot import no_such_module "
                                               r"\(install ser-img on every worker\)$"):
            check_workers(client, module="no_such_module")
        with pytest.raises(ClusterError, match=r"^worker tcp://127\.0\.0\.1:\d+: cannot read .*missing"):
            check_workers(client, readable=[tmp_path / "missing"])


# A worker whose Python cannot import ser_img (or pipelines), as on a machine where ser-img was not installed.
WORKER_WITHOUT_SER_IMG = [sys.executable, "-c", """
import sys
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("ser_img", "pipelines"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NotInstalled())
from distributed.cli.dask_worker import main
main(["--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard", sys.argv[1]])
"""]


def test_a_worker_without_ser_img_stops_the_command_with_one_line(stack_model, corpus, tmp_path):
    with dask_cluster(tmp_path, [WORKER_WITHOUT_SER_IMG]) as (address, _):
        result = subprocess.run([str(BIN / "ser-img"), "predict", str(corpus), "--model", str(stack_model),
                                 "--scheduler", address, "--out", str(tmp_path / "out")],
                                capture_output=True, text=True, env=QUIET, timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert re.fullmatch(r"error: worker tcp://127\.0\.0\.1:\d+: cannot import ser_img "
                        r"\(install ser-img on every worker\)", line), result.stderr


def test_unreachable_scheduler_is_one_line_and_exit_2(stack_model, corpus, monkeypatch):
    import pipelines.cluster.client

    monkeypatch.setattr(pipelines.cluster.client, "CONNECT_TIMEOUT_S", 2.0)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = CliRunner().invoke(main, ["predict", str(corpus), "--model", str(stack_model), "--scheduler", address])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("error: cannot connect")]
    assert address in result.stderr and "Traceback" not in result.stderr


def test_cluster_and_parquet_runs_check_their_paths_as_a_local_run_does(tmp_path):
    """One rule for finding the files: a path that names nothing is a usage error before any
    model loads or any scheduler is reached, with --out and --scheduler as without them."""
    missing = tmp_path / "missing.wav"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there: reaching it would fail otherwise
    for options in (["--out", str(tmp_path / "out")], ["--scheduler", address]):
        result = CliRunner().invoke(main, ["predict", str(missing), *options])
        assert result.exit_code == 2 and result.stderr.strip() == f"error: {missing}: no such file"
    assert not (tmp_path / "out").exists()


def test_parquet_parts_are_committed_whole_and_paths_never_doubled(tmp_path):
    from pipelines.cluster import ParquetResults

    def rows(*paths):
        return [{"path": p, "label": "sad", **{e: 0.125 for e in EMOTIONS}, "duration_s": 1.0,
                 "model_name": "m", "model_version": "1", "error": None, "outcome": "emotion", "speech_s": 1.0,
                 "warnings": None} for p in paths]

    def segment(path):
        return {"path": path, "start": 0.0, "end": 3.0, "label": "sad", **{e: 0.125 for e in EMOTIONS}}

    results = ParquetResults(tmp_path / "out")
    assert results.add(rows("a", "b"), [segment("a")]) == 2
    assert results.add(rows("b", "c"), [segment("b")]) == 1  # b has a row: dropped, and its segment too
    # A run killed between a batch's segments part and its files part, and one killed mid-write:
    (tmp_path / "out" / "segments" / "part-00002.parquet").write_bytes(b"orphan")
    (tmp_path / "out" / "files" / ".part-00002.parquet.123.tmp").write_bytes(b"half")
    resumed = ParquetResults(tmp_path / "out")
    assert resumed.done == {"a", "b", "c"}
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == [
        "files", "part-00000.parquet", "part-00000.parquet", "part-00001.parquet", "segments"]
    assert resumed.add(rows("c", "d"), []) == 1
    assert sorted(read_rows(tmp_path / "out", "files"), key=lambda r: r["path"]) == rows("a", "b", "c", "d")
    assert [r["path"] for r in read_rows(tmp_path / "out", "segments")] == ["a"]


def test_a_file_that_breaks_a_batch_becomes_a_row_never_a_failed_task(stack_model, corpus, monkeypatch):
    import pipelines.cluster.worker as cluster
    from pipelines.predict import recognize_paths

    good, cursed = sorted(str(p) for p in corpus.rglob("*.wav"))[:2]

    def recognize_paths_with_a_bug(recognizer, paths, *args, **kwargs):
        if Path(cursed) in paths:
            raise RuntimeError("a bug no one foresaw")
        return recognize_paths(recognizer, paths, *args, **kwargs)

    monkeypatch.setattr(cluster, "recognize_paths", recognize_paths_with_a_bug)
    report = cluster.score_batch(cluster.bundle_model(stack_model), [good, cursed], RecognizerOptions())
    assert [p.source for p in report.predictions] == [good]
    assert report.failures == [(cursed, f"{cursed}: RuntimeError: a bug no one foresaw")]
    assert report.predictions[0].model["name"] == stack_model.name  # the worker's copy keeps the model's name


def read_rows(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / table).to_pylist()


def test_killed_worker_loses_and_doubles_nothing_and_rerun_scores_nothing(cluster, archive, stack_model, tmp_path):
    from pipelines.predict import predict_files

    address, workers = cluster
    out = tmp_path / "results.parquet"
    command = [str(BIN / "ser-img"), "-q", "predict", str(archive), "--model", str(stack_model),
               "--scheduler", address, "--out", str(out), "--files-per-task", "4"]
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=QUIET, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "files").glob("part-*.parquet"))) < 3 and client.poll() is None:
            assert time.monotonic() < deadline, "no part written in 60 s"
            time.sleep(0.05)
        parts_at_kill = len(list((out / "files").glob("part-*.parquet")))
        kill(workers[1])  # mid-run: the rest of its tasks must run again on the other worker
        stdout, stderr = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    assert parts_at_kill < 49, "the run finished before the worker was killed"  # 194 files / 4 per part
    assert client.returncode == 1, stderr  # broken.wav failed; everything else was scored
    assert "194 scored, 0 already" in stdout

    rows = read_rows(out, "files")
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) == 194
    local = predict_files([archive], stack_model)
    assert {row["path"]: row["error"] for row in rows if row["error"]} == dict(local.failures)
    by_path = {row["path"]: row for row in rows}
    for prediction in local.predictions:
        row = by_path[prediction.source]
        assert row["label"] == prediction.label
        assert max(abs(row[e] - p) for e, p in zip(EMOTIONS, prediction.probabilities)) < 1e-6
        assert row["model_name"] == prediction.model["name"] == stack_model.name
    (long,) = [p for p in local.predictions if p.is_timeline]
    segments = read_rows(out, "segments")
    assert [(s["start"], s["end"], s["label"]) for s in segments] == [(s.start, s.end, s.label) for s in long.timeline]

    again = subprocess.run(command, capture_output=True, text=True, env=QUIET, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "0 scored, 194 already" in again.stdout
    assert len(read_rows(out, "files")) == 194
