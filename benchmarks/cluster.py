"""Clips/s of `predict` on a Dask cluster with one and two workers, against the local `predict`.

    python benchmarks/cluster.py --data /work/shared/ravdess [--clips 200] [--model DIR]

Writes benchmarks/results/cluster.json and cluster.md. Each rate is the best of 3 runs
(other jobs share the machine). On the same clips:
  local     `predict_files` as `ser-img predict` runs it, warm: pinned to one core, then every core
  cluster   `predict_to_parquet` (what `ser-img predict --scheduler ADDRESS --out DIR` runs) on
            Dask's own `dask scheduler` and 1 or 2 `dask worker --nthreads 1` processes on
            loopback, warm (model already loaded on each worker), 16 files per task so that
            200 clips make enough tasks to share; peak resident memory of each worker process
  cold      whole `ser-img predict` processes: `--json` against `--scheduler local:2 --out`,
            the cluster's start and the model's loading included
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from common import describe_model, machine, save_results  # noqa: E402

BIN = Path(sys.executable).parent
FILES_PER_TASK = 16


def audio_files(data: Path, clips: int) -> list[Path]:
    from ser_img.files import find_audio

    return [path for path, _ in find_audio([data])][:clips]


REPEATS = 3  # each rate is the best of this many runs: other jobs share this machine's 2 cores


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (a process pool's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(clips: int, function, cpu) -> dict:
    """Best clips/s of REPEATS runs, and clips per CPU-second over all of them: the second does not
    depend on what else the machine runs, so it is the figure to multiply by cores."""
    before = cpu()
    best = min(timed(function) for _ in range(REPEATS))
    return {"clips_per_s": round(clips / best, 1), "clips_per_cpu_s": round(REPEATS * clips / (cpu() - before), 1)}


def local_rate(files: list[Path], model_dir: Path, workers: int | None) -> dict:
    """Warm `predict_files` (the model loaded first)."""
    from pipelines.predict import predict_files
    from ser_img.model import load_model

    model = load_model(model_dir)
    return measure(len(files), lambda: predict_files(files, model_dir, model=model, workers=workers), cpu_seconds)


def local_rates(args) -> dict:
    """One core in a child pinned to CPU 0 (LiteRT, XGBoost and LightGBM would otherwise take a
    second core's threads, which a one-thread Dask worker does not have), then every core."""
    child = subprocess.run(["taskset", "-c", "0", sys.executable, __file__, "--data", str(args.data), "--clips",
                            str(args.clips), "--model", str(args.model), "--one-core"],
                           check=True, capture_output=True, text=True)
    files = audio_files(args.data, args.clips)
    return {"one_core": json.loads(child.stdout.splitlines()[-1]), "all_cores": local_rate(files, args.model, None)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cluster_rate(files: list[Path], model_dir: Path, workers: int) -> dict:
    """Scheduler and `workers` single-thread workers on loopback; a warm run of predict_to_parquet."""
    import distributed

    from pipelines.cluster import bundle_model, predict_to_parquet, worker_model

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
            client.run(lambda bundle: worker_model(bundle) and None, bundle_model(model_dir))  # warm: load it now
            with tempfile.TemporaryDirectory() as out:
                runs = iter(range(REPEATS))
                rates = measure(len(files), lambda: predict_to_parquet(
                    files, Path(out) / f"results-{next(runs)}.parquet", model_dir, scheduler=address,
                    files_per_task=FILES_PER_TASK), lambda: sum(client.run(cpu_seconds).values()))
            peaks = client.run(worker_peak_rss_mib)
        return {"workers": workers, **rates, "worker_peak_rss_mib": sorted(peaks.values())}
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


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
    local, runs, cold = results["local"], results["cluster"], results["cold"]
    n = results["clips"]
    lines = [f"Machine: {results['machine']['cpu']}, {results['machine']['nproc']} cores, "
             f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}; shared with other "
             f"jobs (load average before the run {results['load_before']}); each rate is the best of {REPEATS} runs.",
             f"Command: `{results['command']}` ({results['date']}).",
             f"Model: {results['model']}. Clips: the first {n} of the data folder.", "",
             "| run | clips/s | vs local one core | clips per CPU-second | peak memory per worker |",
             "|---|---|---|---|---|"]
    one = local["one_core"]["clips_per_s"]
    for name, run in [("local `predict`, one core", local["one_core"]), ("local `predict`, all cores", local["all_cores"]),
                      *((f"Dask, {r['workers']} worker(s) x 1 thread, warm", r) for r in runs)]:
        memory = ", ".join(f"{m} MiB" for m in run.get("worker_peak_rss_mib", []))
        lines.append(f"| {name} | {run['clips_per_s']} | {run['clips_per_s'] / one:.2f}x | {run['clips_per_cpu_s']} "
                     f"| {memory} |")
    lines += ["", f"Whole commands, cold ({n} clips): `ser-img predict --json` {cold['local_json_s']} s; "
              f"`ser-img predict --scheduler local:2 --out DIR` {cold['local2_parquet_s']} s "
              "(starting the cluster and loading the model on each worker included)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--model", type=Path, default=ROOT / "ser_img" / "default_model")
    parser.add_argument("--one-core", action="store_true", help=argparse.SUPPRESS)  # local_rates' child
    args = parser.parse_args()
    files = audio_files(args.data, args.clips)
    if args.one_core:
        print(json.dumps(local_rate(files, args.model, 1)))
        return
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "clips": len(files),
               "command": "python benchmarks/cluster.py " + " ".join(sys.argv[1:]),
               "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
               "model": describe_model(args.model), "files_per_task": FILES_PER_TASK}
    results["local"] = local_rates(args)
    results["cluster"] = [cluster_rate(files, args.model, workers) for workers in (1, 2)]
    results["cold"] = cold_commands(files, args.model)
    save_results("cluster", results, table(results))


if __name__ == "__main__":
    main()
