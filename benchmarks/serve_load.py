"""Load test of `ser-img serve` on loopback: N clients posting clips for D seconds.

    python benchmarks/serve_load.py --model DIR [--clients 8] [--seconds 30]

Starts the real server (`ser-img serve`) on a free loopback port, lets each client post
a short synthetic clip back to back, and records every request's latency. Any failed
request (non-200 or connection error) is counted. Writes benchmarks/results/serve_load.json
and serve_load.md with p50/p95/p99 latency, throughput and the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile
from common import RESULTS, describe_model, machine

from ser_img.corpus.synth import synth_clip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clip_bytes() -> tuple[bytes, float]:
    """A synthetic utterance as 16-bit WAV, and its length in seconds."""
    buffer = io.BytesIO()
    clip = synth_clip("happy", 2, 1, 1, np.random.default_rng(0), 16000)
    soundfile.write(buffer, clip, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), len(clip) / 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(sys.executable).parent / "ser-img"), "-q", "serve", "--model",
                               str(args.model), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not come up")
        body, clip_s = clip_bytes()
        httpx.post(f"{url}/predict", files={"file": ("warm.wav", body)}, timeout=120)  # warm-up, not counted
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop = time.perf_counter() + args.seconds

        def client() -> None:
            with httpx.Client(timeout=120) as session:
                while time.perf_counter() < stop:
                    started = time.perf_counter()
                    try:
                        response = session.post(f"{url}/predict", files={"file": ("clip.wav", body)})
                        ok = response.status_code == 200 and response.json()["label"]
                        error = None if ok else f"HTTP {response.status_code}"
                    except (httpx.HTTPError, ValueError) as exc:
                        error = type(exc).__name__
                    with lock:
                        (failures.append(error) if error else latencies.append(time.perf_counter() - started))

        began = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        alive = server.poll() is None and httpx.get(f"{url}/health").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    ms = np.array(latencies) * 1000
    result = {
        "what": f"ser-img serve under load on loopback: POST /predict with a {clip_s:.1f}-s WAV clip",
        "clients": args.clients, "seconds": round(elapsed, 1), "requests_ok": len(latencies),
        "requests_failed": len(failures), "failures": sorted(set(failures)), "server_up_after": alive,
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "latency_ms": {q: round(float(np.percentile(ms, p)), 1) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}
        | {"max": round(float(ms.max()), 1)},
        "model": str(args.model), "machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "reproduce": f"python benchmarks/serve_load.py --model {args.model} --clients {args.clients} "
                     f"--seconds {args.seconds:g}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    lat = result["latency_ms"]
    (RESULTS / "serve_load.md").write_text(
        f"# `ser-img serve` load test\n\n{args.clients} clients posting a {clip_s:.1f}-s WAV clip back to back for "
        f"{result['seconds']:g} s over loopback.\n\n"
        f"| requests ok | failed | throughput | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n"
        f"| {len(latencies)} | {len(failures)} | {result['throughput_rps']:.1f} req/s | {lat['p50']:.0f} ms | "
        f"{lat['p95']:.0f} ms | {lat['p99']:.0f} ms | {lat['max']:.0f} ms |\n\n"
        f"Server still answering /health afterwards: {'yes' if alive else 'NO'}.\n\n"
        f"Machine: {result['machine']['nproc']} cores, {result['machine']['cpu']}; Python "
        f"{result['machine']['python']}; model {describe_model(args.model)}; {result['date']}. "
        f"\n\nReproduce: `{result['reproduce']}`\n")
    print((RESULTS / "serve_load.md").read_text())
    if failures or not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
