"""Leave one corpus out with `ser-img train` itself (issue 23, item 3).

    PYTHONPATH=. python experiments/loco.py data/c --members desc,enc,whisper --json loco.json

`data/c` holds one rendered folder per corpus (`ser-img render`), RAVDESS first, plus any
copies of RAVDESS under simulated conditions (`ravdess-mix1`, ...; `--copies`). For each
corpus other than RAVDESS: train a stack with `pipelines.train.train` on every other
folder (RAVDESS the home corpus, with its copies), then score the held-out corpus, the
decision and the probabilities restricted to the classes it has. Prints accuracy, the
largest predicted-class share (the collapse issue 23 names), ECE, and the predicted-class
histogram. Only members without a CNN (a CNN per held-out corpus is beyond 2 cores):
the figures are for the feature members' stack, a stand-in for the shipped model's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_img.corpus.dataset import load_labelled_images  # noqa: E402
from ser_img.ensemble.settings import TrainSettings  # noqa: E402
from ser_img.labels import EMOTIONS  # noqa: E402
from ser_img.report.metrics import calibration  # noqa: E402
from ser_img.store.load import load_model  # noqa: E402
from ser_img.store.measured import loco_section, with_section  # noqa: E402
from ser_img.store.save import attach_reports  # noqa: E402
from pipelines.train import train  # noqa: E402

CORPORA = ("nemo", "ased", "spanish", "emovo", "korean")


def held_out_figures(model, folder: Path) -> dict:
    data = load_labelled_images(folder, with_images=False)
    classes = np.unique(data.labels)
    probs = model.predict_proba(data.images, data.features)[:, classes]
    probs = probs / probs.sum(axis=1, keepdims=True)
    truth = np.searchsorted(classes, data.labels)
    top = probs.argmax(1)
    counts = np.bincount(top, minlength=len(classes))
    return {"clips": int(len(truth)), "accuracy": float(np.mean(top == truth)),
            "uar": float(np.mean([np.mean(top[truth == c] == c) for c in range(len(classes))])),
            **calibration(truth, probs), "largest_share": float(counts.max() / len(top)),
            "largest_class": EMOTIONS[int(classes[counts.argmax()])],
            "histogram": {EMOTIONS[int(c)]: int(n) for c, n in zip(classes, counts)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--members", default="desc,enc,whisper")
    parser.add_argument("--copies", default="ravdess-mix1,ravdess-mix2")
    parser.add_argument("--held-out", default=",".join(CORPORA))
    parser.add_argument("--folds", type=int, default=3, help="speaker-grouped folds of each training run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--card", type=Path, help="add the figures to this model's card (and loco.json) too")
    args = parser.parse_args()
    settings = TrainSettings(members=tuple(args.members.split(",")), max_folds=args.folds)
    home = [args.root / "ravdess"] + [args.root / c for c in args.copies.split(",") if c]
    results = {}
    for held_out in args.held_out.split(","):
        started = time.perf_counter()
        others = [args.root / c for c in CORPORA if c != held_out]
        with tempfile.TemporaryDirectory() as tmp:
            report = train(home + others, "stack", Path(tmp) / "model", settings)
            model = load_model(report.model_dir)
            results[held_out] = held_out_figures(model, args.root / held_out)
            results[held_out]["stack_weights"] = model.info.get("stack_weights")
        r = results[held_out]
        print(f"| {held_out} | {r['accuracy']:.1%} | {r['uar']:.1%} | {r['largest_share']:.0%} {r['largest_class']} | "
              f"{r['ece']:.3f} | {time.perf_counter() - started:.0f} s |", flush=True)
    mean = float(np.mean([r["accuracy"] for r in results.values()]))
    print(f"mean accuracy {mean:.1%}")
    everything = {"members": args.members, "copies": args.copies, "mean_accuracy": mean, "corpora": results}
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    if args.card:
        add_to_card(args.card, "loco.json", everything, loco_section(everything, command_line()))


def command_line() -> str:
    return "PYTHONPATH=. python " + " ".join(sys.argv)


def add_to_card(model_dir: Path, name: str, figures: dict, section: str) -> None:
    """The figures as `name` in the model's folder, and their section in its card."""
    card = (model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    attach_reports(model_dir, {name: json.dumps(figures, indent=1).encode(),
                               "MODEL_CARD.md": with_section(card, section).encode("utf-8")})


if __name__ == "__main__":
    main()
