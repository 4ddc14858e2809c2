"""Compare ways of combining a model's members on its saved out-of-fold probabilities.

    python experiments/stacker_variants.py artifacts/NAME/oof.npz

Each variant is scored by the same speaker-grouped folds the model was trained with
(the stacker for fold K learns from the other folds' out-of-fold probabilities only).
"""

import sys

import numpy as np
from ser_img.members.heads import LogisticHead, stack_features
from ser_img.members.registry import MEMBER_ORDER as MEMBERS


def cross_validated_accuracy(fit, features, labels, folds):
    predictions = np.zeros((len(labels), 8))
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        predictions[test] = fit(features[train], labels[train]).predict_proba(features[test])
    return float(np.mean(predictions.argmax(1) == labels))


def logistic(C):
    return lambda features, labels: LogisticHead(C=C).fit(features, labels)


def main(path):
    data = np.load(path)
    labels, folds = data["labels"], data["fold"]
    members = [name for name in MEMBERS if name != "stack" and name in data.files]
    probabilities = [data[name] for name in members]
    rows = [(f"{name} alone", float(np.mean(p.argmax(1) == labels))) for name, p in zip(members, probabilities)]
    rows.append(("soft vote (mean probability)", float(np.mean(sum(probabilities).argmax(1) == labels))))
    for C in (0.5, 0.1, 0.02):
        rows.append((f"LR on standardised log-probabilities, C={C}",
                     cross_validated_accuracy(logistic(C), stack_features(probabilities), labels, folds)))
    print("| combination | accuracy |\n|---|---|")
    for name, accuracy in rows:
        print(f"| {name} | {accuracy:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1])
