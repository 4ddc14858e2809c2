"""Does a speaker-discriminant projection of CAM++ embeddings count speakers better? (issue 24)

    OMP_NUM_THREADS=1 python experiments/diarization_cache.py --seed 1      # and --seed 0
    OMP_NUM_THREADS=1 python experiments/speaker_lda.py

Linear discriminant analysis (shrinkage 0.1) learnt on the tuning seed's pieces labelled by
speaker, for each corpus from the other five corpora's conversations only, keeps the
directions along which speakers differ more than one speaker's emotions do; the recognizer's
clustering then runs on the projected embeddings with its merge threshold chosen again.
Row 0 dimensions is the clustering shipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diarization_choice import unit  # noqa: E402
from speaker_nap import counted, rows_of  # noqa: E402

from ser_img.conversation import clustering  # noqa: E402


def projection(rows: list[dict], dims: int) -> LinearDiscriminantAnalysis:
    pieces = np.concatenate([r["e"] for r in rows])
    who = np.concatenate([[f"{r['corpus']}:{w}" for w in r["who"]] for r in rows])
    return LinearDiscriminantAnalysis(n_components=dims, solver="eigen", shrinkage=0.1).fit(pieces, who)


def scored(rows: list[dict], learn_from: list[dict], dims: int, merge: float) -> tuple[float, float]:
    """(count right over every conversation, mean DER over those of 2-4 speakers)."""
    clustering.MERGE_COSINE = merge

    def method_for(corpus: str):
        lda = projection([r for r in learn_from if r["corpus"] != corpus], dims) if dims else None
        return lambda e, w, k: clustering.cluster(unit(lda.transform(e)) if lda else e, k, w)

    return counted(rows, method_for)[:2]


def main() -> None:
    tune, report = rows_of(1), rows_of(0)
    print("| dimensions | merge cosine | seed 1: count right, DER 2-4 | seed 0: count right, DER 2-4 |\n|---|---|---|---|")
    for dims, merges in ((0, (0.6,)), (16, (0.5, 0.6, 0.7, 0.8)), (32, (0.5, 0.6, 0.7, 0.8, 0.85))):
        for merge in merges:
            a, b = scored(tune, tune, dims, merge), scored(report, tune, dims, merge)
            print(f"| {dims} | {merge} | {100 * a[0]:.0f} %, {100 * a[1]:.1f} % | {100 * b[0]:.0f} %, {100 * b[1]:.1f} % |",
                  flush=True)


if __name__ == "__main__":
    main()
