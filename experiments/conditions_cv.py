"""A model's speaker-grouped CV figures under recording conditions (issue 23).

    PYTHONPATH=. python experiments/conditions_cv.py --model ser_img/default_model \
        --audio ../shared/ravdess --babble ../shared/corpora/emovo/labels.csv \
        --babble ../shared/corpora/korean/labels.csv --cache /tmp/cond --json conditions.json

Every clip of `--audio` (labelled, from speakers the model was trained on) is put through
each condition (`ser_img.audio.conditions`, seeded by the clip's name: the same clips get
the same noise for every model), rendered with the model's own settings, and scored by the
one fold of the model that never heard its speaker (the fold `oof.npz` says), exactly as
`ser-img train`'s out-of-fold figures are. The "clean" rows are therefore the model card's
RAVDESS figures again. Rendered conditions are cached per render settings, so a second
model with the same settings only re-scores.

Babble is made of `--babble` talkers: give corpora whose talkers the model's training babble
did not use. With `--babble-held-out`, each clip's babble comes only from the `--babble`
talkers its fold held out too (the fold's models never heard them, in speech or in babble),
for a model that trained on those corpora. Prints a Markdown table; `--json` keeps every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.audio.conditions import Condition, apply_condition  # noqa: E402
from ser_img.audio.decode import load_audio  # noqa: E402
from ser_img.speech.quality import measure, warnings_for  # noqa: E402
from ser_img.corpus.files import find_audio  # noqa: E402
from ser_img.corpus.manifest import read_settings  # noqa: E402
from ser_img.features.extractors import feature_blocks, render_inputs_batch  # noqa: E402
from ser_img.labels import EMOTIONS, clip_info, read_clip_list  # noqa: E402
from ser_img.members.heads import stack_features  # noqa: E402
from ser_img.report.metrics import calibration  # noqa: E402
from ser_img.runtime.parallel import run_parallel  # noqa: E402
from ser_img.store.load import load_model  # noqa: E402
from ser_img.store.measured import conditions_section  # noqa: E402
from pipelines.render import BABBLE_CLIPS, babble_files  # noqa: E402
from experiments.loco import add_to_card, command_line  # noqa: E402

CONDITIONS = {
    "clean": Condition(), "gain-30": Condition("gain", -30), "gain+20": Condition("gain", 20),
    "peak-1": Condition("peak", -1), "gain-30-16bit": Condition("gain", -30, "16bit"),
    "gain-40-16bit": Condition("gain", -40, "16bit"),
    "gain-55-16bit": Condition("gain", -55, "16bit"), "pink20": Condition("noise", 20, "pink"), "pink10": Condition("noise", 10, "pink"),
    "babble20": Condition("babble", 20), "babble10": Condition("babble", 10), "telephone": Condition("telephone"),
    "mp3": Condition("codec", 0, "mp3"), "lowpass3000": Condition("lowpass", 3000), "room0.5": Condition("room", 0.5),
}
BATCH = 8


def render_job(job):
    """(image, features, measured quality) of clips `paths` under one condition, with `settings`."""
    paths, name, settings, babble = job
    pool = [load_audio(p, settings.sample_rate).samples for p in babble] if CONDITIONS[name].kind == "babble" else []
    signals = [apply_condition(load_audio(p, settings.sample_rate).samples, settings.sample_rate, CONDITIONS[name],
                               zlib.crc32(Path(p).name.encode()), pool) for p in paths]
    qualities = [measure(s, settings.sample_rate) for s in signals]
    measured = [(q.snr_db if q.snr_db is not None else np.nan, q.speech_level_dbfs, q.high_band_db,
                 len(warnings_for(q)), q.speech_s, q.clipped_fraction) for q in qualities]
    return [(*pair, m) for pair, m in zip(render_inputs_batch(signals, settings), measured)]


def rendered(paths, name, settings, babble, cache: Path):
    """Images, features and measured quality (SNR, speech level, high band, warnings) of
    every clip under condition `name`, from the cache when there."""
    file = cache / settings.fingerprint() / f"{name}.npz"
    if file.is_file():
        with np.load(file) as saved:
            if list(saved["paths"]) == [str(p) for p in paths] and "quality" in saved:
                return saved["images"], saved["features"], saved["quality"]
    jobs = [(paths[i:i + BATCH], name, settings, babble) for i in range(0, len(paths), BATCH)]
    rows = [row for batch in run_parallel(render_job, jobs) for row in batch]
    images, features, quality = (np.stack([r[i] for r in rows]) for i in range(3))
    file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(file, images=images, features=features, quality=quality, paths=np.array([str(p) for p in paths]))
    return images, features, quality


def fold_babble_pools(fold_of, fold_by_speaker, babble_lists) -> dict:
    """Each fold's babble talkers: only --babble talkers that fold held out, at most BABBLE_CLIPS."""
    talkers = {path: info.speaker for csv in babble_lists for path, (_, info) in read_clip_list(csv).items()}
    pools = {}
    for k in np.unique(fold_of):
        pool = sorted(p for p, speaker in talkers.items() if fold_by_speaker.get(speaker) == k)
        pools[k] = tuple(pool[::max(1, len(pool) // BABBLE_CLIPS)][:BABBLE_CLIPS])
    return pools


def held_out_babble(paths, name, settings, babble_lists, fold_of, fold_by_speaker, cache: Path):
    """`rendered` with each fold's clips mixed with babble of only the talkers that fold held out."""
    pools = fold_babble_pools(fold_of, fold_by_speaker, babble_lists)
    parts, order = [], []
    for k in np.unique(fold_of):
        rows = np.flatnonzero(fold_of == k)
        parts.append(rendered([paths[i] for i in rows], name, settings, pools[k], cache / "held-out-babble" / f"fold{k}"))
        order.extend(rows)
    back = np.argsort(order)
    return tuple(np.concatenate([part[i] for part in parts])[back] for i in range(3))


def for_model(features: np.ndarray, rendered_with, model) -> np.ndarray:
    """The model's feature columns out of features rendered with more extractors (a model
    keeps only the blocks its members read; blocks are found by name)."""
    have = feature_blocks(rendered_with)
    return np.concatenate([features[:, have[name]] for name in feature_blocks(model.render_settings)], axis=1)


def held_out_probabilities(model, fold_of: np.ndarray, images, features) -> dict[str, np.ndarray]:
    """Each clip's member and stack probabilities from the one fold that never heard it."""
    blocks = feature_blocks(model.render_settings)
    out: dict[str, np.ndarray] = {}
    for k, fold in enumerate(model.folds):
        rows = np.flatnonzero(fold_of == k)
        if not len(rows):
            continue
        members = fold.member_probabilities(images[rows], features[rows], blocks, model.members)
        if model.stacker is not None:
            members["stack"] = model.stacker.predict_proba(stack_features(list(members.values())))
        for name, probs in members.items():
            out.setdefault(name, np.zeros((len(fold_of), len(EMOTIONS))))[rows] = probs
    return out


def figures(labels, probs, clean_top=None) -> dict:
    top = probs.argmax(1)
    counts = np.bincount(top, minlength=len(EMOTIONS))
    result = {"accuracy": float(np.mean(top == labels)), **calibration(labels, probs),
              "largest_share": float(counts.max() / len(top)), "largest_class": EMOTIONS[int(counts.argmax())]}
    if clean_top is not None:
        result["same_top_as_clean"] = float(np.mean(top == clean_top))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--settings", type=Path, help="render with this rendered folder's settings (all its "
                        "extractors, cached once for every model rendered alike) instead of the model's")
    parser.add_argument("--render-only", action="store_true", help="fill the cache, score nothing")
    parser.add_argument("--audio", type=Path, required=True)
    parser.add_argument("--babble", type=Path, action="append", required=True)
    parser.add_argument("--babble-held-out", action="store_true", help="babble of each fold's own held-out "
                        "--babble talkers only (clip lists with a speaker column)")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--whisper-precision", choices=("float32", "int8"),
                        help="render Whisper at this precision instead of the model's (issue 25's check)")
    parser.add_argument("--card", type=Path, help="add the figures to this model's card (and conditions.json) too")
    args = parser.parse_args()
    if args.render_only:
        settings = dataclasses.replace(read_settings(args.settings), channel="", condition_seed=0)
        paths = [path for path, _ in find_audio([args.audio]) if clip_info(path).label in EMOTIONS]
        for name in args.conditions.split(","):
            rendered(paths, name, settings, babble_files(args.babble), args.cache)
        return
    model = load_model(args.model)
    settings = (dataclasses.replace(read_settings(args.settings), channel="", condition_seed=0) if args.settings
                else model.render_settings)
    if args.whisper_precision:
        settings = dataclasses.replace(settings, whisper_precision=args.whisper_precision)
    with np.load(args.model / "oof.npz") as oof:
        fold_by_speaker = dict(zip(oof["speakers"].tolist(), oof["fold"].tolist()))
    clips = [(path, clip_info(path)) for path, _ in find_audio([args.audio])]
    clips = [(p, info) for p, info in clips if info.label in EMOTIONS]
    if not all(info.speaker in fold_by_speaker for _, info in clips):
        raise SystemExit("every clip's speaker must be one the model was trained on (its held-out fold scores it)")
    paths = [p for p, _ in clips]
    labels = np.array([EMOTIONS.index(info.label) for _, info in clips])
    fold_of = np.array([fold_by_speaker[info.speaker] for _, info in clips])
    babble = babble_files(args.babble)
    results, clean_top = {}, None
    for name in args.conditions.split(","):
        if args.babble_held_out and CONDITIONS[name].kind == "babble":
            images, features, quality = held_out_babble(paths, name, settings, args.babble, fold_of,
                                                         fold_by_speaker, args.cache)
        else:
            images, features, quality = rendered(paths, name, settings, babble, args.cache)
        features = for_model(features, settings, model)
        probs = held_out_probabilities(model, fold_of, images, features)
        final = "stack" if "stack" in probs else model.head
        results[name] = {member: figures(labels, p, clean_top) for member, p in probs.items()}
        results[name]["final"] = final
        results[name]["quality"] = {"snr_db": quality[:, 0].tolist(), "speech_level_dbfs": quality[:, 1].tolist(),
                                    "high_band_db": quality[:, 2].tolist(), "warnings": quality[:, 3].tolist(),
                                    "speech_s": quality[:, 4].tolist(), "clipped_fraction": quality[:, 5].tolist(),
                                    "right": (probs[final].argmax(1) == labels).tolist()}
        if name == "clean":
            clean_top = probs[final].argmax(1)
        row = results[name][final]
        print(f"| {name} | {row['accuracy']:.1%} | {row['ece']:.3f} | {row.get('same_top_as_clean', 1.0):.1%} | "
              f"{row['largest_share']:.0%} {row['largest_class']} |", flush=True)
    everything = {"model": str(args.model), "clips": len(paths), "conditions": results}
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    if args.card:  # the model keeps the figures, not every clip's measured quality (2 MB; that is for --json)
        kept = {**everything, "conditions": {name: {k: v for k, v in row.items() if k != "quality"}
                                             for name, row in results.items()}}
        add_to_card(args.card, "conditions.json", kept, conditions_section(kept, command_line()))


if __name__ == "__main__":
    main()
