"""Worker processes, muted native output and LiteRT inference (ser_img.runtime)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ser_img.runtime.lite import BATCH, LiteCnn
from ser_img.runtime.parallel import run_parallel, worker_pool
from ser_img.runtime.quiet import muted

PACKAGED = Path(__file__).resolve().parents[2] / "ser_img" / "default_model"


def test_run_parallel_keeps_the_order_in_process_and_over_workers():
    jobs = [-5, 3, -1, 0, 7, -2]
    assert list(run_parallel(abs, jobs, workers=1)) == [5, 3, 1, 0, 7, 2]
    assert list(run_parallel(abs, jobs, workers=2)) == [5, 3, 1, 0, 7, 2]
    assert list(run_parallel(abs, [], workers=4)) == []


def test_a_worker_pool_maps_whole_lists_for_the_length_of_a_job():
    with worker_pool(1) as mapper:
        assert mapper(str, [1, 2]) == ["1", "2"]
        assert mapper(len, ["ab", ""]) == [2, 0]


def test_a_lazy_worker_pool_gives_results_in_order_as_they_come():
    with worker_pool(2, lazy=True) as mapper:
        first, second = mapper(abs, [-3, 1, -2]), mapper(abs, [-5])
        assert not isinstance(first, list)
        assert list(second) == [5] and list(first) == [3, 1, 2]


def test_an_interrupted_worker_pool_ends_its_workers_without_waiting_for_their_jobs():
    """Ctrl-C in the middle of a folder: the workers are stopped, not waited for (each here
    would sleep a minute)."""
    import multiprocessing
    import time

    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):
        with worker_pool(2, lazy=True) as mapper:
            results = mapper(time.sleep, [60] * 6)
            time.sleep(1.0)  # the workers have started their first jobs
            workers = set(multiprocessing.active_children()) - before
            assert len(workers) == 2
            raise KeyboardInterrupt
    started = time.perf_counter()
    assert not any(worker.is_alive() for worker in workers)  # ended by the pool, not by the join below
    for child in set(multiprocessing.active_children()) - before:
        child.join(timeout=10)
    assert not set(multiprocessing.active_children()) - before and time.perf_counter() - started < 10
    with pytest.raises(Exception):  # what was queued is gone with the workers
        next(results)


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_this_process_keeps_one_blas_thread_while_a_worker_pool_runs_then_gets_its_own_back():
    """The scoring process works beside the workers: its BLAS threads would fight them for the cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with worker_pool(2) as mapper:
            during = _blas_threads()
            assert mapper(abs, [-1, 2]) == [1, 2]
        assert _blas_threads() == before
    assert before and set(before) == {2} and set(during) == {1}


def test_muted_silences_the_descriptor_and_restores_it(capfd):
    with muted(1, 2):
        os.write(1, b"native stdout\n")
        os.write(2, b"native stderr\n")
    os.write(1, b"after\n")
    with pytest.raises(RuntimeError), muted(2):
        raise RuntimeError("boom")
    os.write(2, b"still here\n")
    out, err = capfd.readouterr()
    assert out == "after\n" and err == "still here\n"


@pytest.fixture(scope="module")
def cnn():
    settings = json.loads((PACKAGED / "model.json").read_text())["render_settings"]
    return LiteCnn((PACKAGED / "cnn_0_0.tflite").read_bytes(), 8, threads=1), (settings["height"], settings["width"])


def test_lite_cnn_gives_embeddings_and_probabilities_batch_by_batch(cnn):
    model, (height, width) = cnn
    images = np.random.default_rng(0).integers(0, 256, (BATCH + 3, height, width, 3), dtype=np.uint8)
    embeddings, probabilities = model.outputs(images)
    assert len(embeddings) == len(probabilities) == BATCH + 3
    assert probabilities.shape[1] == 8 and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # a batch of one gives what the same image gives inside a full batch
    alone_embedding, alone = model.outputs(images[BATCH + 1 : BATCH + 2])
    np.testing.assert_allclose(alone[0], probabilities[BATCH + 1], atol=1e-6)
    np.testing.assert_allclose(alone_embedding[0], embeddings[BATCH + 1], atol=1e-5)


def test_lite_cnn_of_no_images_is_empty(cnn):
    model, _ = cnn
    embeddings, probabilities = model.outputs(np.zeros((0, 4, 4, 3), np.uint8))
    assert probabilities.shape == (0, 8)
