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
    lines = [
        f"# Model card: {info['name']}", "",
        "## Data", "", f"- {data_line}.",
        f"- Classes, in this order: {', '.join(EMOTIONS)}.",
    ]
    if ravdess:
        lines.append(f"- {RAVDESS_TERMS}")
    lines += [
        "", "## Architecture", "",
        "Audio is mixed to mono, resampled, trimmed of leading and trailing silence and rendered to "
        "a log-mel RGB image (settings in model.json). Per speaker-grouped fold: a CNN "
        f"(channels {tuple(cnn['channels'])}, {cnn['embedding_size']}-d embedding, {cnn['epochs']} epochs) "
        "learns from most training speakers; MLP, "
        "XGBoost and LightGBM heads learn from its embeddings of the other speakers plus acoustic "
        "descriptors (spectral, cepstral, energy and pitch statistics); a logistic regression on "
        "the descriptors alone joins them. The stack is a weighted geometric vote of the members, "
        "its weights (0, 1 or 2 per member; model.json, stack_weights) chosen on out-of-fold "
        "predictions only. The model averages its folds.",
        "", "## Speaker-grouped cross-validation", "",
        f"{len(scores['folds'])} folds of whole speakers; every figure is for speakers the scoring "
        "members never heard. Pooled out-of-fold predictions:", "",
        "| member | accuracy | UAR | macro-F1 |", "|---|---|---|---|",
    ]
    for name in member_names:
        row = scores["overall"][name]
        mark = " (the model's output)" if name == scores["final"] else ""
        lines.append(f"| {name}{mark} | {row['accuracy']:.3f} | {row['uar']:.3f} | {row['macro_f1']:.3f} |")
    lines += [
        "", "## Limits", "",
        "- Trained on acted speech: North-American English actors reading two fixed sentences in a "
        "studio. Expect lower accuracy on spontaneous, conversational, noisy, telephone-band or "
        "far-field speech, on other languages and accents, and on children's voices.",
        "- Cross-validated figures are estimates for new speakers of the same corpus; a blind test "
        "on other speakers is expected to come out a little lower, other corpora lower still.",
        "- Eight acted categories; real emotion is graded and mixed. Use the probabilities, not only "
        "the label, and do not use the output to make decisions about individuals.",
        "",
    ]
    return "\n".join(lines)
