"""Time and peak memory of `ser-img predict --speakers` on long two-party recordings.

    python benchmarks/conversation_speed.py [--model DIR] [--minutes 10,60] [--ravdess ../shared/ravdess]

Writes two-party recordings of real speech (RAVDESS actors 01 and 02 taking turns, pauses of
0.2-1.5 s), block by block: 16-kHz mono for `--speakers auto` and `2`, and 48-kHz stereo with one
party per channel for `--speakers channels`. Each run is a child process whose wall time and peak
resident memory (ru_maxrss) are recorded in benchmarks/results/conversation_speed.{json,md},
beside the plain long-file path (no speakers) on the same audio. The target (issue 16) is one
hour of two-party audio in 2 minutes or less on 2 cores, memory flat as the long-file path's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile
from common import describe_model, machine, save_results
from long_memory import peak_rss_mb

from ser_img.audio.decode import load_audio
from ser_img.recognizer import resolve_model_dir

RATE = 16000


def write_conversation(mono: Path, stereo: Path, minutes: float, ravdess: Path, seed: int = 0) -> float:
    """Actors 01 and 02 alternating; never more than a clip in memory. Returns seconds written."""
    rng = np.random.default_rng(seed)
    pools = [[load_audio(p, RATE).samples for p in sorted((ravdess / f"Actor_{a:02d}").glob("*.*"))[:20]]
             for a in (1, 2)]
    if not all(pools):
        raise SystemExit(f"{ravdess}: no Actor_01 and Actor_02 folders of audio (--ravdess)")
    target, written, turn = int(minutes * 60 * RATE), 0, 0
    with soundfile.SoundFile(str(mono), "w", RATE, 1, subtype="PCM_16") as one, \
            soundfile.SoundFile(str(stereo), "w", 48000, 2, subtype="PCM_16") as two:
        while written < target:
            clip = pools[turn % 2][rng.integers(len(pools[turn % 2]))]
            pause = np.zeros(int(rng.uniform(0.2, 1.5) * RATE), np.float32)
            block = np.concatenate([clip, pause])[: target - written]
            one.write(block)
            upsampled = np.repeat(block, 3)  # 48 kHz without a resampler: good enough for timing
            silent = np.zeros_like(upsampled)
            two.write(np.stack([upsampled, silent] if turn % 2 == 0 else [silent, upsampled], axis=1))
            written += len(block)
            turn += 1
    return written / RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--minutes", default="10,60")
    parser.add_argument("--ravdess", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "ravdess")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ser-img-conversation"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    script = str(Path(sys.executable).parent / "ser-img")
    model = ["--model", str(args.model)] if args.model else []
    runs = []
    for minutes in [float(m) for m in args.minutes.split(",")]:
        mono, stereo = args.workdir / f"talk-{minutes:g}.wav", args.workdir / f"call-{minutes:g}.wav"
        seconds = write_conversation(mono, stereo, minutes, args.ravdess)
        for speakers, path in (("none", mono), ("2", mono), ("auto", mono), ("channels", stereo)):
            out = args.workdir / f"{speakers}-{minutes:g}.json"
            option = [] if speakers == "none" else ["--speakers", speakers]
            peak, took = peak_rss_mb([script, "-q", "predict", *model, str(path), *option, "--json"], out)
            record = json.loads(out.read_text())[0]
            found = [s["speaker"] for s in record.get("speakers") or []]
            runs.append({"minutes": minutes, "audio_s": round(seconds, 1), "speakers": speakers,
                         "wall_s": round(took, 1), "peak_mib": round(peak, 1), "segments": len(record["timeline"]),
                         "found": found, "label": record["label"]})
            print(json.dumps(runs[-1]), file=sys.stderr)
    report = {"machine": machine(), "model": describe_model(resolve_model_dir(args.model)), "runs": runs,
              "command": "python benchmarks/conversation_speed.py " + " ".join(sys.argv[1:])}
    lines = ["# Conversations: time and memory on long two-party recordings", "",
             "Real speech (RAVDESS actors 01 and 02 taking turns, pauses 0.2-1.5 s), 16-kHz mono for `auto`/`2` "
             "and the plain long-file path (`none`), 48-kHz stereo with one party per channel for `channels`. "
             "Each row is one `ser-img predict --json` child process: wall time and peak resident memory.", "",
             "| audio | --speakers | wall | real-time factor | peak memory | segments | speakers found |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run['minutes']:g} min | {run['speakers']} | {run['wall_s']:.1f} s | "
                     f"{run['wall_s'] / run['audio_s']:.3f} | {run['peak_mib']:.0f} MiB | {run['segments']} | "
                     f"{', '.join(run['found']) or '-'} |")
    cores = report["machine"]
    lines += ["", f"Machine: {cores['nproc']} cores, {cores['cpu']}, Python {cores['python']}; "
                  f"model {report['model']}.", "", f"Reproduce: `{report['command']}`"]
    save_results("conversation_speed", report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
