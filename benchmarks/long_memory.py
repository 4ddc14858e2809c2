"""Peak memory of `ser-img predict` on a long recording, against a 3-s clip as the baseline.

    python benchmarks/long_memory.py --model DIR [--minutes 60] [--workdir /tmp/ser-img-long]

Writes a synthetic recording (22.05 kHz stereo 16-bit WAV: speech-like clips separated by
silence, written block by block), runs `ser-img predict --json` on it and on one clip in
child processes, and records each child's peak resident memory (ru_maxrss) in
benchmarks/results/memory.json and memory.md. If the file were decoded whole, the peak
would grow with it (a one-hour file is 57.6 M samples: 230 MB as float32 at 16 kHz
alone); read in blocks it should stay near the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
from common import RESULTS, describe_model, machine

from ser_img.labels import EMOTIONS
from ser_img.corpus.synth import synth_clip

RATE = 22050


def write_recording(path: Path, minutes: float, seed: int = 0) -> float:
    """Speech-like clips and pauses (a third of it silent), never more than a clip in memory."""
    rng = np.random.default_rng(seed)
    pool = [synth_clip(e, 2, 1 + i % 2, 1 + i % 4, rng, RATE) for i, e in enumerate(EMOTIONS * 2)]
    target, written = int(minutes * 60 * RATE), 0
    with soundfile.SoundFile(str(path), "w", RATE, 2, subtype="PCM_16") as out:
        while written < target:
            clip = pool[rng.integers(len(pool))]
            pause = np.zeros(int(rng.uniform(0.5, 3.0) * RATE), np.float32)
            block = np.concatenate([clip, pause])[: target - written]
            out.write(np.stack([block, 0.8 * block], axis=1))
            written += len(block)
    return written / RATE


def peak_rss_mb(command: list[str], stdout: Path) -> tuple[float, float]:
    """(peak resident MiB, seconds) of one child process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'w')); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, r.returncode)")
    result = subprocess.run([sys.executable, "-c", code, str(stdout), *command],
                            capture_output=True, text=True, check=True)
    kib, seconds, returncode = result.stdout.split()
    if returncode != "0":
        raise SystemExit(f"{' '.join(command)} failed ({returncode}): {result.stderr[-2000:]}")
    return int(kib) / 1024, float(seconds)


def _seconds(value: float) -> str:
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ser-img-long"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    long_path, clip_path = args.workdir / "long.wav", args.workdir / "clip.wav"
    seconds = write_recording(long_path, args.minutes)
    soundfile.write(str(clip_path), synth_clip("angry", 2, 1, 1, np.random.default_rng(1), RATE), RATE)
    script = str(Path(sys.executable).parent / "ser-img")
    runs = {}
    for name, path in (("clip", clip_path), ("long", long_path)):
        out = args.workdir / f"{name}.json"
        command = [script, "-q", "predict", "--model", str(args.model), str(path), "--json"]
        peak, took = peak_rss_mb(command, out)
        record = json.loads(out.read_text())[0]
        runs[name] = {"command": " ".join(command), "peak_rss_mib": round(peak, 1), "seconds": round(took, 1),
                      "audio_s": record["duration_s"], "segments": len(record["timeline"]),
                      "silent_s": record["silent_s"], "label": record["label"]}
    result = {
        "what": "peak resident memory of `ser-img predict` (child process ru_maxrss)",
        "recording": {"minutes": round(seconds / 60, 2), "format": f"WAV PCM_16, {RATE} Hz, 2 channels",
                      "bytes": long_path.stat().st_size},
        "runs": runs,
        "machine": machine(),
        "model": str(args.model),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "reproduce": f"python benchmarks/long_memory.py --model {args.model} --minutes {args.minutes:g}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {name} | {_seconds(r['audio_s'])} | {r['segments']} | {r['peak_rss_mib']:.0f} MiB | "
                     f"{r['seconds']:.0f} s |" for name, r in runs.items())
    (RESULTS / "memory.md").write_text(
        f"# Peak memory of `ser-img predict` on a long recording\n\n"
        f"{result['recording']['minutes']:g}-minute synthetic recording ({result['recording']['format']}, "
        f"{result['recording']['bytes'] / 2**20:.0f} MiB on disk), read in blocks.\n\n"
        f"| input | audio | segments | peak RSS | time |\n|---|---|---|---|---|\n{rows}\n\n"
        f"The long run's peak minus the clip's is what an hour of audio costs: "
        f"{runs['long']['peak_rss_mib'] - runs['clip']['peak_rss_mib']:.0f} MiB (decoded whole, the file alone "
        f"would be {result['recording']['bytes'] * 2 / 2**20:.0f} MiB of float32 samples).\n\n"
        f"Machine: {result['machine']['nproc']} cores, {result['machine']['cpu']}; Python "
        f"{result['machine']['python']}; model {describe_model(args.model)}; {result['date']}.\n\n"
        f"Reproduce: `{result['reproduce']}`\n")
    print((RESULTS / "memory.md").read_text())


if __name__ == "__main__":
    main()
