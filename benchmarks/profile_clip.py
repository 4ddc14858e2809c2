"""Where a 3-s clip's time goes in `ser-img predict FOLDER`, on one core and on two.

    python benchmarks/profile_clip.py                      # 64 clips, 1 and 2 cores
    python benchmarks/profile_clip.py --clips 128 --cores 1 2 --out benchmarks/results/profile.md

The clips are the eight bundled RAVDESS examples (3.1-3.6 s) at 48 kHz, 16-bit WAV, as RAVDESS
ships them, repeated under new names. For each core count a child process pinned to that many
cores (and as many BLAS and LiteRT threads) times every step of the short-clip path on its own,
the way `scoring.files` runs them:

  worker side, per clip: decode, resample, input quality (the energy speech measure), trim,
  the spectrogram image, the descriptors, the GE2E encoder (one clip at a time, as the
  workers run it; and the same per clip in a batch of 32, for comparison);
  scoring side, per batch of 32 (given per clip): each CNN (LiteRT, 6 folds x 2 cross-fitted
  copies), each MLP head on its CNN's embeddings, each fold's logistic regression on the
  encoder vector, the stack's vote, and `predict_prepared` whole; then the record and its JSON.

Then the command itself, `ser-img predict FOLDER --json -q` under `taskset`, end to end, and
`ser-img predict ONE_CLIP` for the cold start. Each step is the best of `--repeat` runs (the
machine is shared; the best is the least disturbed). Nothing in ser_img is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 32


def make_clips(folder: Path, count: int) -> list[Path]:
    """`count` WAV clips at 48 kHz: the bundled examples, upsampled, repeated under new names."""
    import numpy as np
    import soundfile
    import soxr

    examples = sorted((ROOT / "ser_img" / "examples").glob("*.flac"))
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for path in examples:
        samples, rate = soundfile.read(str(path), dtype="float32")
        sources.append(np.clip(soxr.resample(samples, rate, 48000), -1, 1))
    paths = []
    for k in range(count):
        path = folder / f"clip{k:04d}_{examples[k % len(examples)].stem}.wav"
        soundfile.write(str(path), sources[k % len(sources)], 48000, subtype="PCM_16")
        paths.append(path)
    return paths


def best(function, repeat: int) -> float:
    """Seconds of the fastest of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def profile_stages(paths: list[Path], cores: int, repeat: int) -> dict:
    """Milliseconds per clip of every step, in this (pinned) process."""
    import numpy as np
    import soundfile

    from ser_img.audio.decode import to_rate
    from ser_img.speech.quality import measure, warnings_for
    from ser_img.audio.signal import centre
    from ser_img.store.load import PACKAGED_MODEL, load_model
    from ser_img.features import encoder
    from ser_img.features.descriptors import descriptors
    from ser_img.features.extractors import feature_blocks, render_inputs
    from ser_img.features.spectrogram import log_mel, to_image, trim_silence
    from ser_img.members.heads import stack_features
    from ser_img.members.registry import CNN, REGISTRY
    from ser_img.records import Recognition, Segment
    from ser_img.labels import EMOTIONS
    from ser_img.speech.vad import speech_probabilities

    start = time.perf_counter()
    model = load_model(PACKAGED_MODEL, cnn_threads=cores)
    load_s = time.perf_counter() - start
    settings = model.render_settings
    blocks = feature_blocks(settings)
    enc_settings = encoder.EncoderSettings(layer=settings.encoder_layer)
    clips = paths[:BATCH]
    n = len(clips)
    per_clip = {}

    def each(name, function, items):
        per_clip[name] = 1000 * best(lambda: [function(x) for x in items], repeat) / len(items)

    def read(path):
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return samples.mean(axis=1), rate

    decoded = [read(p) for p in clips]
    each("decode (libsndfile, 48-kHz 16-bit WAV, to mono)", read, clips)
    each("resample 48 -> 16 kHz (soxr HQ)", lambda d: to_rate(d[0], d[1], settings.sample_rate), decoded)
    signals = [np.clip(to_rate(s, r, settings.sample_rate), -1, 1) for s, r in decoded]
    each("input quality (energy speech measure, warnings)",
         lambda x: warnings_for(measure(x, settings.sample_rate), 48000), signals)
    each("trim silence (40 dB)", lambda x: trim_silence(x, settings), signals)
    trimmed = [trim_silence(x, settings) for x in signals]
    each("Silero VAD over the clip (not on this path today)", lambda x: speech_probabilities(x), signals)
    each("spectrogram image (log-mel 128x128, colour map)",
         lambda x: to_image(log_mel(centre(x, settings.window_samples), settings), settings), trimmed)
    each("descriptors (724)", lambda x: descriptors(x, settings), trimmed)
    each("GE2E encoder, one clip at a time (as the workers run it)",
         lambda x: encoder.encoder_features(x, enc_settings), trimmed)
    per_clip["GE2E encoder, per clip in a batch of 32"] = 1000 * best(
        lambda: encoder.encoder_features_batch(trimmed, enc_settings), repeat) / n
    each("render_inputs whole (trim + image + descriptors + encoder)", lambda x: render_inputs(x, settings), signals)

    prepared = [render_inputs(x, settings) for x in signals]
    images = np.stack([p[0] for p in prepared])
    features = np.stack([p[1] for p in prepared])
    members = model.members
    cnn_ms, head_ms, plain_ms, stack_ms = [], [], [], []
    single_cnn_ms = []
    for fold in model.folds:
        totals = {}
        for cnn, heads in zip(fold.cnns, fold.heads):
            cnn_ms.append(1000 * best(lambda: cnn.outputs(images), repeat) / n)
            single_cnn_ms.append(1000 * best(lambda: [cnn.outputs(images[i:i + 1]) for i in range(4)], repeat) / 4)
            cnn.outputs(images[:BATCH])  # back to the batch plan
            embeddings, probs = cnn.outputs(images)
            totals[CNN] = totals.get(CNN, 0) + probs / len(fold.cnns)
            for name, head in heads.items():
                inputs = REGISTRY[name].inputs(embeddings, features, blocks)
                head_ms.append(1000 * best(lambda: head.predict_proba(inputs), repeat) / n)
                totals[name] = totals.get(name, 0) + head.predict_proba(inputs) / len(fold.cnns)
        for name, member in fold.plain.items():
            inputs = REGISTRY[name].inputs(None, features, blocks)
            plain_ms.append(1000 * best(lambda: member.predict_proba(inputs), repeat) / n)
            totals[name] = member.predict_proba(inputs)
        ordered = [totals[name] for name in members]
        stack_ms.append(1000 * best(lambda: model.stacker.predict_proba(stack_features(ordered)), repeat) / n)
    per_clip[f"CNN (LiteRT), {len(cnn_ms)} copies, batch of 32: each"] = sum(cnn_ms) / len(cnn_ms)
    per_clip[f"CNN (LiteRT), {len(cnn_ms)} copies, batch of 32: all"] = sum(cnn_ms)
    per_clip[f"CNN (LiteRT), one copy, batch of 1"] = sum(single_cnn_ms) / len(single_cnn_ms)
    per_clip[f"MLP heads, {len(head_ms)}: all"] = sum(head_ms)
    per_clip[f"encoder logistic regressions, {len(plain_ms)}: all"] = sum(plain_ms)
    per_clip[f"stack vote, {len(stack_ms)} folds: all"] = sum(stack_ms)
    per_clip["predict_prepared whole (every member, the stack)"] = 1000 * best(
        lambda: model.predict_prepared(prepared), repeat) / n
    rows = model.predict_prepared(prepared)

    def record(i):
        row = rows[i]
        result = Recognition(source=str(clips[i]), probabilities=row, duration_s=3.2,
                             timeline=[Segment(0.0, 3.2, row)], shares=np.eye(len(EMOTIONS))[int(row.argmax())],
                             model={"name": "m", "version": "v"}, speech_s=2.0)
        return json.dumps(result.to_dict(), indent=2)

    each("record and its JSON", record, range(n))
    return {"cores": cores, "clips": n, "load_model_s": load_s, "ms_per_clip": per_clip,
            "members": members, "folds": len(model.folds)}


def run_command(args: list[str], cores: int, **env_changes: str) -> float:
    """Wall seconds of `ser-img ARGS` pinned to the first `cores` cores."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_changes}
    command = ["taskset", "-c", ",".join(map(str, range(cores))), sys.executable, "-c",
               "import sys; from cli import main; sys.exit(main())", *args]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds


def child(args) -> None:
    cores = args.cores[0]
    os.sched_setaffinity(0, set(range(cores)))
    paths = sorted(Path(args.folder).glob("*.wav"))
    print(json.dumps(profile_stages(paths, cores, args.repeat)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write the tables (Markdown) here too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from ser_img.store.load import PACKAGED_MODEL

    work = Path(tempfile.mkdtemp(prefix="ser-img-profile-"))
    try:
        paths = make_clips(work / "clips", args.clips)
        results = []
        for cores in args.cores:
            threads = str(cores)
            env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": threads,
                   "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
            done = subprocess.run([sys.executable, __file__, "--child", "--cores", str(cores), "--folder",
                                   str(work / "clips"), "--repeat", str(args.repeat)],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            stages = json.loads(done.stdout.strip().splitlines()[-1])
            model = ["--model", str(PACKAGED_MODEL), "--json", "-q"]
            cold = min(run_command(["predict", str(paths[0]), *model], cores) for _ in range(2))
            folder_args = ["predict", str(work / "clips"), "--workers", str(cores), *model]
            folder = min(run_command(folder_args, cores) for _ in range(args.repeat))
            # the scoring process's BLAS (OpenBLAS) and LiteRT threads beside the workers: the
            # same command with one BLAS thread everywhere
            one_blas = min(run_command(folder_args, cores, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
                           for _ in range(args.repeat)) if cores > 1 else folder
            stages.update(cold_one_clip_s=cold, folder_s=folder, folder_one_blas_s=one_blas, folder_clips=len(paths))
            results.append(stages)
            print(f"{cores} core(s): folder of {len(paths)} clips {folder:.2f} s, one clip cold {cold:.2f} s",
                  file=sys.stderr)
        text = report(results, args)
        print(text)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: list[dict], args) -> str:
    names = list(results[0]["ms_per_clip"])
    head = "| step (ms per clip) | " + " | ".join(f"{r['cores']} core{'s' * (r['cores'] > 1)}, {r['cores']} BLAS/LiteRT "
                                                 f"thread{'s' * (r['cores'] > 1)}" for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{r['ms_per_clip'][name]:.2f}" for r in results) + " |")
    lines += ["", "| end to end | " + " | ".join(f"{r['cores']} core{'s' * (r['cores'] > 1)}" for r in results) + " |",
              "|---|" + "---:|" * len(results)]
    rows = {
        "load the model (in process), s": lambda r: f"{r['load_model_s']:.2f}",
        "`ser-img predict ONE.wav` cold, s": lambda r: f"{r['cold_one_clip_s']:.2f}",
        "`ser-img predict FOLDER` (N clips), s": lambda r: f"{r['folder_s']:.2f} ({r['folder_clips']})",
        "clips/s, whole command": lambda r: f"{r['folder_clips'] / r['folder_s']:.1f}",
        "clips/s, less the cold start": lambda r: f"{r['folder_clips'] / max(1e-9, r['folder_s'] - r['cold_one_clip_s']):.1f}",
        "the same with OPENBLAS_NUM_THREADS=1, s": lambda r: f"{r['folder_one_blas_s']:.2f}",
    }
    for name, cell in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in results) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
