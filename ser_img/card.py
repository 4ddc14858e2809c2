"""The model card: what a model was trained on, how well it does, and where it will not."""

from __future__ import annotations

from .labels import EMOTIONS

RAVDESS_TERMS = (
    "RAVDESS speech (Livingstone & Russo 2018, https://zenodo.org/records/1188976), licensed "
    "CC BY-NC-SA 4.0: these weights are derived from it, so they are for non-commercial use, "
    "with attribution, shared alike."
)


def model_card(info: dict, scores: dict, member_names: list[str]) -> str:
    """Markdown for MODEL_CARD.md, written into every model directory at training time."""
    speakers = info["speakers"]
    ravdess = [s for s in speakers if s.startswith("ravdess-")]
    data_line = (f"{info['n_clips']} clips from {len(speakers)} speakers"
                 + (f" (RAVDESS actors {', '.join(s.split('-')[1] for s in ravdess)})" if ravdess else ""))
    cnn = info["train_settings"]["cnn"]
    settings = info.get("render_settings", {})
    lines = [
        f"# Model card: {info['name']}", "",
        "## Data", "", f"- {data_line}.",
        f"- Classes, in this order: {', '.join(EMOTIONS)}.",
    ]
    if ravdess:
        lines.append(f"- {RAVDESS_TERMS}")
    lines += [
        "", "## Architecture", "",
        "Audio is mixed to mono, resampled, trimmed of leading and trailing silence once and rendered "
        "to a log-mel RGB image (settings in model.json); from the same trimmed signal come ser-img's "
        "hand-written acoustic descriptors"
        + (f" and openSMILE's {settings['functionals']} functionals" if settings.get("functionals") else "")
        + ". Per speaker-grouped fold, the training speakers are split into "
        f"{info['train_settings']['cnns_per_fold']} parts; for each part a CNN "
        f"(channels {tuple(cnn['channels'])}, {cnn['embedding_size']}-d embedding, {cnn['epochs']} epochs) "
        "learns from the other parts, and MLP, XGBoost and LightGBM heads learn from its embeddings "
        "of that part (plus the descriptors): every training speaker reaches the heads through a "
        "CNN that never heard it. Logistic regressions on the descriptors alone and on the "
        "functionals alone learn from every training speaker. The stack is a weighted geometric "
        "mean of the members (integer weights chosen on out-of-fold predictions, normalised), "
        "divided by a temperature learned on the same out-of-fold predictions, so that its "
        "probabilities are calibrated. The model averages its folds.",
    ]
    weights = info.get("stack_weights")
    if weights:
        unused = [name for name, w in weights.items() if w == 0]
        lines += ["", "Stack weights (before normalising): " + ", ".join(f"{n} {w}" for n, w in weights.items())
                  + f"; temperature {info['stack_temperature']:.3f}."
                  + (f" Members with weight 0 ({', '.join(unused)}) add nothing the others do not already "
                     "give on out-of-fold predictions; prediction skips them." if unused else "")]
    lines += [
        "", "## Speaker-grouped cross-validation", "",
        f"{len(scores['folds'])} folds of whole speakers; every figure is for speakers the scoring "
        "members never heard. Pooled out-of-fold predictions:", "",
        "| member | accuracy | UAR | macro-F1 | log-loss | Brier | ECE |", "|---|---|---|---|---|---|---|",
    ]
    for name in member_names:
        row = scores["overall"][name]
        mark = " (the model's output)" if name == scores["final"] else ""
        lines.append(f"| {name}{mark} | {row['accuracy']:.3f} | {row['uar']:.3f} | {row['macro_f1']:.3f} "
                     f"| {row['log_loss']:.3f} | {row['brier']:.3f} | {row['ece']:.3f} |")
    lines += ["", "Log-loss (natural log; a uniform guess scores 2.079), Brier score and expected "
              "calibration error (10 bins) of the out-of-fold probabilities; the reliability diagram is "
              "reliability.png."]
    lines += [
        "", "## Limits", "",
        "- Trained on acted speech: North-American English actors reading two fixed sentences in a "
        "studio. Expect lower accuracy on spontaneous, conversational, noisy, telephone-band or "
        "far-field speech, on other languages and accents, and on children's voices.",
        "- Cross-validated figures are estimates for new speakers of the same corpus; a blind test "
        "on other speakers is expected to come out a little lower, other corpora lower still.",
        "- The probabilities are calibrated on out-of-fold predictions of one fold's members at a "
        "time; the model averages its folds, which tends to soften them a little further. They are "
        "calibrated for speakers like the training ones, not for other corpora.",
        "- Eight acted categories; real emotion is graded and mixed. Use the probabilities, not only "
        "the label, and do not use the output to make decisions about individuals.",
        "",
    ]
    return "\n".join(lines)
