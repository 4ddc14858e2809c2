"""Speed and memory of ser-img's hot paths, against the plain ways, on this machine.

    python benchmarks/bench.py --data ../shared/ravdess [--clips 400] [--model DIR] [--train IMAGES]

Writes benchmarks/results/bench.json and bench.md (a table with the machine's description).
Each stage runs in its own process so that its peak memory (max RSS, children included)
is its own. Stages:
  render   `ser-img render`'s code vs the plain per-file way (plain_render.py), same files,
           one process per core each; then the incremental re-run that skips everything
  predict  warm latency of one clip on one core (p50/p95), batch throughput of a folder on
           every core, and a cold `ser-img predict FILE` process vs a bare `import tensorflow`
  smile    the classic way's feature step on the same files, one process per core: openSMILE's
           ComParE 2016 functionals (plain_smile.py), warm, for the folder's ratio
  train    (with --train IMAGES) a full `ser-img train` and its seconds per CNN epoch
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from common import machine, save_results  # noqa: E402


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def audio_files(data: Path, clips: int) -> list[Path]:
    from ser_img.corpus.files import find_audio

    return [path for path, _ in find_audio([data])][:clips]


def stage_render(args) -> dict:
    """`ser-img render` as users run it (a process of its own), then the plain way."""
    from pipelines import single_threaded_blas
    from plain_render import plain_render

    files = audio_files(args.data, args.clips)
    command = [str(Path(sys.executable).with_name("ser-img")), "-q", "render", *map(str, files), "--out"]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        started = time.perf_counter()
        subprocess.run([*command, str(work / "ours")], check=True, capture_output=True)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([*command, str(work / "ours")], check=True, capture_output=True)
        skip = time.perf_counter() - started
        rendered = len(list((work / "ours").rglob("*.png")))
        (work / "plain").mkdir()
        jobs = [(str(f), str(work / "plain" / f"{i}.png")) for i, f in enumerate(files)]
        started = time.perf_counter()
        with ProcessPoolExecutor(os.cpu_count(), initializer=single_threaded_blas) as pool:
            list(pool.map(plain_render, jobs, chunksize=8))
        plain = time.perf_counter() - started
    assert rendered == len(files), "render benchmark lost clips"
    return {"clips": len(files), "ours_clips_per_s": round(len(files) / ours, 1),
            "plain_clips_per_s": round(len(files) / plain, 1), "speedup": round(plain / ours, 2),
            "incremental_rerun_s": round(skip, 2)}


def stage_latency(args) -> dict:
    """Warm single-clip prediction; run under `taskset` on one core by the parent."""
    import numpy as np
    from ser_img.audio.decode import load_audio
    from ser_img.store.load import load_model

    model = load_model(args.model)
    files = audio_files(args.data, 60)
    signals = [load_audio(f, model.render_settings.sample_rate).samples for f in files]
    model.predict_signals(signals[:2])  # warm up: interpreters plan their memory
    times = []
    for path in files:
        started = time.perf_counter()
        model.predict_signals([load_audio(path, model.render_settings.sample_rate).samples])
        times.append(time.perf_counter() - started)
    durations = [len(s) / model.render_settings.sample_rate for s in signals]
    return {"clips": len(times), "mean_clip_s": round(float(np.mean(durations)), 2),
            "p50_ms": round(1000 * float(np.percentile(times, 50)), 1),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 1)}


def stage_batch(args) -> dict:
    from pipelines.predict import predict_files
    from ser_img.recognizer import EmotionRecognizer

    files = audio_files(args.data, args.clips)
    recognizer = EmotionRecognizer.load(args.model)
    predict_files(files[:8], recognizer=recognizer)  # warm up
    started = time.perf_counter()
    report = predict_files(files, recognizer=recognizer)
    seconds = time.perf_counter() - started
    return {"clips": len(report.predictions), "clips_per_s": round(len(report.predictions) / seconds, 1)}


def stage_smile(args) -> dict:
    """openSMILE ComParE functionals of the folder's files, one warm process per core."""
    from pipelines import single_threaded_blas
    from plain_smile import smile_functionals

    files = [str(f) for f in audio_files(args.data, args.clips)]
    cores = os.cpu_count()
    with ProcessPoolExecutor(cores, initializer=single_threaded_blas) as pool:
        list(pool.map(smile_functionals, files[:cores]))  # each worker loads openSMILE first, as ours are warm
        started = time.perf_counter()
        sizes = list(pool.map(smile_functionals, files, chunksize=8))
        seconds = time.perf_counter() - started
    return {"clips": len(files), "clips_per_s": round(len(files) / seconds, 1), "functionals": sizes[0]}


def stage_train(args) -> dict:
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "model"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli", "-q", "train", "--images", str(args.train), "--out",
                        str(out)], check=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        description = json.loads((out / "model.json").read_text())
        metrics = json.loads((out / "metrics.json").read_text())
    settings = description["train_settings"]
    return {"seconds": round(seconds, 1), "folds": description["n_folds"], "epochs": settings["cnn"]["epochs"],
            "clips": description["n_clips"], "stack_accuracy": metrics["overall"]["stack"]["accuracy"]}


def cold_runs(command: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def in_child(stage: str, args, pin_one_core: bool = False) -> dict:
    command = [sys.executable, __file__, "--stage", stage, "--data", str(args.data), "--clips", str(args.clips)]
    command += ["--model", str(args.model)] if args.model else []
    command += ["--train", str(args.train)] if args.train else []
    if pin_one_core:
        command = ["taskset", "-c", "0", *command]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _row(measure: str, ours: str, reference: str = "", ratio: str = "", peak=None) -> str:
    memory = f"{peak} MiB" if isinstance(peak, (int, float)) else (peak or "")
    return f"| {measure} | {ours} | {reference} | {ratio} | {memory} |"


def table(results: dict) -> str:
    """The Markdown table of bench.md (and the README's performance section)."""
    m = results["machine"]
    lines = [f"Machine: {m['cpu']}, {m['nproc']} cores, {m['memory_gib']} GiB, Python {m['python']}.",
             f"Command: `{results['command']}` ({results['date']}).", "",
             "| measure | ser-img | plain way / reference | ratio | peak memory |", "|---|---|---|---|---|"]
    if r := results.get("render"):
        lines.append(_row(f"`ser-img render` {r['clips']} clips, all cores (whole process)",
                          f"{r['ours_clips_per_s']} clips/s", f"{r['plain_clips_per_s']} clips/s (librosa, Pillow; "
                          "target: ours >= 2x, issue 25)", f"{r['speedup']}x", r["peak_rss_mib"]))
        lines.append(_row("`ser-img render` again, all up to date (whole process)", f"{r['incremental_rerun_s']} s"))
    if r := results.get("latency"):
        lines.append(_row(f"warm predict, one {r['mean_clip_s']}-s clip, one core",
                          f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms", "target p50 < 20 ms (issue 25)", "",
                          r["peak_rss_mib"]))
    if r := results.get("batch"):
        smile = results.get("smile")
        lines.append(_row(f"predict a folder of {r['clips']} clips, all cores", f"{r['clips_per_s']} clips/s",
                          "target >= 100 clips/s and >= 4x openSMILE (issue 25)",
                          f"{r['clips_per_s'] / smile['clips_per_s']:.2f}x openSMILE" if smile else "",
                          r["peak_rss_mib"]))
    if r := results.get("smile"):
        lines.append(_row(f"openSMILE ComParE 2016 functionals of the same {r['clips']} clips, all cores, warm "
                          "(the classic way's feature step)", "", f"{r['clips_per_s']} clips/s", "",
                          r["peak_rss_mib"]))
    if r := results.get("cold"):
        lines.append(_row("cold `ser-img predict FILE` (median of 3)", f"{r['predict_s']} s",
                          f"`import tensorflow` {r['import_tensorflow_s']} s", f"{r['ratio']}x"))
    if r := results.get("train"):
        kept = r.get("cnns_from")
        what = (f"`ser-img train --keep-cnns` ({r['clips']} clips, {r['folds']} folds; {kept}'s CNNs kept)" if kept
                else f"`ser-img train` ({r['clips']} clips, {r['folds']} folds x {r['epochs']} epochs)")
        lines.append(_row(what, f"{r['seconds']} s", "target <= 3600 s (issue 23)", "", r["peak_rss_mib"]))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of audio clips")
    parser.add_argument("--clips", type=int, default=400, help="clips for the render and batch stages")
    parser.add_argument("--model", type=Path, default=None, help="model directory [default model]")
    parser.add_argument("--train", type=Path, default=None, help="rendered images: also time a full train")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = {"render": stage_render, "latency": stage_latency, "batch": stage_batch, "smile": stage_smile,
                  "train": stage_train}[args.stage](args)
        print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}))
        return
    from ser_img.store.load import find_default_model

    args.model = args.model or find_default_model()
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
               "command": "python benchmarks/bench.py " + " ".join(sys.argv[1:])}
    results["render"] = in_child("render", args)
    results["latency"] = in_child("latency", args, pin_one_core=True)
    results["batch"] = in_child("batch", args)
    results["smile"] = in_child("smile", args)
    clip = str(audio_files(args.data, 1)[0])
    script = Path(sys.executable).with_name("ser-img")  # the installed console script, as users run it
    predict_s = cold_runs([str(script), "predict", "--model", str(args.model), clip])
    tf_s = cold_runs([sys.executable, "-c", "import tensorflow"])
    results["cold"] = {"predict_s": predict_s, "import_tensorflow_s": tf_s, "ratio": round(tf_s / predict_s, 2)}
    if args.train:
        results["train"] = in_child("train", args)
    else:  # the model's own record of its training run
        description = json.loads((Path(args.model) / "model.json").read_text())
        metrics = json.loads((Path(args.model) / "metrics.json").read_text())
        results["train"] = {"seconds": metrics.get("train_seconds"), "folds": description["n_folds"],
                            "epochs": description["train_settings"]["cnn"]["epochs"],
                            "clips": description["n_clips"], "peak_rss_mib": "not measured",
                            "cnns_from": description.get("cnns_from"),
                            "from": "the model's metrics.json"}
    save_results("bench", results, table(results))


if __name__ == "__main__":
    main()
