"""Clips/s of `predict` on a Dask cluster with one and two workers, against the local `predict`.

    python benchmarks/cluster.py --data /work/shared/ravdess [--clips 200] [--model DIR] [--rounds 3]

Writes benchmarks/results/cluster.json and cluster.md. On the same clips, all warm (the model
loaded before the clock starts):
  local, one thread   `predict_files` in this process with one thread everywhere (LiteRT,
                      BLAS, OpenMP): one core's work, as a one-thread Dask worker does it
  local, all cores    `predict_files` as `ser-img predict` runs it (a process per core decodes)
  Dask, 1 and 2       `predict_to_parquet`, what `ser-img predict --scheduler ADDRESS --out DIR`
                      runs, on Dask's own `dask scheduler` and 1 or 2 `dask worker --nthreads 1`
                      processes on loopback, 16 files per task so that 200 clips make enough
                      tasks to share; peak resident memory of each worker process; the
                      command's fixed cost (the same on one file: connecting, checking the
                      workers, sending the model), and the rate once it is paid
The configurations take turns, round after round, so that other jobs on the machine weigh on
all of them alike; each reports its best round (clips/s) and its clips per CPU-second over all
rounds (the CPU of the processes that score: this one, or the workers), which does not depend
on what else the machine runs. Last, whole cold processes: `ser-img predict --json` against
`ser-img predict --scheduler local:2 --out DIR`, the cluster's start included.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from common import describe_model, machine, save_results  # noqa: E402

BIN = Path(sys.executable).parent
FILES_PER_TASK = 16


def audio_files(data: Path, clips: int) -> list[Path]:
    from ser_img.corpus.files import find_audio

    return [path for path, _ in find_audio([data])][:clips]


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (a process pool's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dask_cluster(workers: int, model_dir: Path):
    """A client of a `dask scheduler` and `workers` one-thread `dask worker`s on loopback, model loaded."""
    import distributed

    from pipelines.cluster import bundle_model, worker_model

    address = f"tcp://127.0.0.1:{free_port()}"
    quiet = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "warning"}
    dask = str(BIN / "dask")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                   "--no-dashboard"], env=quiet, start_new_session=True)]
    try:
        processes += [subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                        "--no-dashboard"], env=quiet, start_new_session=True)
                      for _ in range(workers)]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
            client.run(lambda bundle: worker_model(bundle) and None, bundle_model(model_dir))
            yield client
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def configurations(stack: ExitStack, files: list[Path], model_dir: Path, out: Path) -> dict:
    """name -> (run once, CPU seconds of the processes that score, and for a cluster: the same command
    on one file, the client)."""
    from threadpoolctl import threadpool_limits

    from pipelines.cluster import predict_to_parquet
    from pipelines.predict import predict_files
    from ser_img.store.load import load_model

    one_thread, every_core = load_model(model_dir, cnn_threads=1), load_model(model_dir)

    def local_one_thread():
        with threadpool_limits(1):
            predict_files(files, model_dir, model=one_thread, workers=1)

    def on_cluster(client, clips=files):
        runs = iter(range(1_000_000))
        address = client.scheduler.address
        return lambda: predict_to_parquet(clips, out / f"{address.rsplit(':', 1)[1]}-{len(clips)}-{next(runs)}.parquet",
                                          model_dir, scheduler=address, files_per_task=FILES_PER_TASK)

    found = {"local `predict`, one thread": (local_one_thread, cpu_seconds, None, None),
             "local `predict`, all cores": (lambda: predict_files(files, model_dir, model=every_core), cpu_seconds,
                                            None, None)}
    for workers in (1, 2):
        client = stack.enter_context(dask_cluster(workers, model_dir))
        found[f"Dask, {workers} worker{'s' if workers > 1 else ''} x 1 thread"] = (
            on_cluster(client), lambda c=client: sum(c.run(cpu_seconds).values()), on_cluster(client, files[:1]),
            client)
    return found


def measure(files: list[Path], model_dir: Path, rounds: int) -> dict:
    results = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as out:
        runs = configurations(stack, files, model_dir, Path(out))
        seconds = {name: [] for name in runs}
        cpu = dict.fromkeys(runs, 0.0)
        for _ in range(rounds):
            for name, (run, cpu_of, _, _) in runs.items():
                before = cpu_of()
                seconds[name].append(timed(run))
                cpu[name] += cpu_of() - before
        for name, (_, _, one_file, client) in runs.items():
            best = min(seconds[name])
            results[name] = {"clips_per_s": round(len(files) / best, 1),
                             "clips_per_cpu_s": round(rounds * len(files) / cpu[name], 1),
                             "seconds": [round(s, 2) for s in seconds[name]]}
            if one_file is not None:  # a command's fixed cost: connect, check the workers, send the model
                fixed = min(timed(one_file) for _ in range(rounds))
                results[name] |= {"command_fixed_s": round(fixed, 2),
                                  "clips_per_s_after_fixed": round(len(files) / (best - fixed), 1),
                                  "worker_peak_rss_mib": sorted(client.run(peak_rss_mib).values())}
    return results


def cold_commands(files: list[Path], model_dir: Path) -> dict:
    ser_img = str(BIN / "ser-img")
    names = [str(f) for f in files]
    local = timed(lambda: subprocess.run([ser_img, "-q", "predict", *names, "--model", str(model_dir), "--json"],
                                         check=True, capture_output=True))
    with tempfile.TemporaryDirectory() as out:
        command = [ser_img, "-q", "predict", *names, "--model", str(model_dir), "--scheduler", "local:2",
                   "--out", str(Path(out) / "results.parquet")]
        cluster = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    return {"local_json_s": round(local, 2), "local2_parquet_s": round(cluster, 2)}


def table(results: dict) -> str:
    runs, cold, n = results["runs"], results["cold"], results["clips"]
    one = runs["local `predict`, one thread"]
    lines = [f"Machine: {results['machine']['cpu']}, {results['machine']['nproc']} cores, "
             f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}; shared with other "
             f"jobs (load average {results['load_before']} before the run, {results['load_after']} after).",
             f"Command: `{results['command']}` ({results['date']}).",
             f"Model: {results['model']}. Clips: the first {n} of the data folder. Best of {results['rounds']} "
             "rounds, the configurations taking turns; clips per CPU-second over all rounds.", "",
             "| run | clips/s | vs local one thread | clips per CPU-second | fixed cost per command "
             "| clips/s after it | peak memory per worker |", "|---|---|---|---|---|---|---|"]
    for name, run in runs.items():
        memory = ", ".join(f"{m} MiB" for m in run.get("worker_peak_rss_mib", []))
        fixed = f"{run['command_fixed_s']} s | {run['clips_per_s_after_fixed']}" if "command_fixed_s" in run else " |"
        lines.append(f"| {name} | {run['clips_per_s']} | {run['clips_per_s'] / one['clips_per_s']:.2f}x "
                     f"| {run['clips_per_cpu_s']} | {fixed} | {memory} |")
    lines += ["", f"Whole commands, cold ({n} clips): `ser-img predict --json` {cold['local_json_s']} s; "
              f"`ser-img predict --scheduler local:2 --out DIR` {cold['local2_parquet_s']} s "
              "(starting the cluster and loading the model on each worker included)."]
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--model", type=Path, default=ROOT / "ser_img" / "default_model")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    files = audio_files(args.data, args.clips)
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "clips": len(files),
               "command": "python benchmarks/cluster.py " + " ".join(sys.argv[1:]), "load_before": load_average(),
               "model": describe_model(args.model), "files_per_task": FILES_PER_TASK, "rounds": args.rounds}
    results["runs"] = measure(files, args.model, args.rounds)
    results["cold"] = cold_commands(files, args.model)
    results["load_after"] = load_average()
    save_results("cluster", results, table(results))


if __name__ == "__main__":
    main()
