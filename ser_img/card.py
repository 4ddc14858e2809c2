"""The model card: what a model was trained on, how well it does, and where it will not.

The data section describes the data actually used: the corpora recognised from the speaker
ids (RAVDESS, TESS, SAVEE, CREMA-D), how many speakers each gave, their licences where we
know them, and "state your data's licence" for everything else. Synthetic corpora
(ser_img.synth) carry RAVDESS names but are said to be synthetic.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .labels import EMOTIONS
from .synth import MARKER

# speaker-id prefix -> (corpus, source and licence, or None where we do not know the licence)
CORPORA = {
    "ravdess": ("RAVDESS", "Livingstone & Russo 2018, https://zenodo.org/records/1188976; licensed CC BY-NC-SA "
                           "4.0: weights derived from it are for non-commercial use, with attribution, shared alike"),
    "tess": ("TESS", "Pichora-Fuller & Dupuis 2020, https://doi.org/10.5683/SP2/E8H2MF; licensed CC BY-NC-ND 4.0: "
                     "non-commercial use, with attribution"),
    "crema": ("CREMA-D", "Cao et al. 2014, https://github.com/CheyneyComputerScience/CREMA-D; Open Database "
                         "License (ODbL 1.0)"),
    "savee": ("SAVEE", None),
}
# The licence of each corpus in a word or two, for short notes (the web page).
SHORT_LICENCES = {"ravdess": "CC BY-NC-SA 4.0", "tess": "CC BY-NC-ND 4.0", "crema": "ODbL 1.0"}
UNKNOWN_LICENCE = "licence unknown to ser-img: state your data's licence here before sharing this model"
HEAD_NAMES = {"mlp": "an MLP", "xgb": "an XGBoost", "lgbm": "a LightGBM"}


def is_synthetic(sources: list[str]) -> bool:
    """True when every clip lies in a corpus written by ser_img.synth (its marker file beside it)."""
    folders = {Path(s).parent for s in sources}
    return bool(folders) and all((f / MARKER).is_file() or (f.parent / MARKER).is_file() for f in folders)


def data_lines(speakers: list[str], n_clips: int, synthetic: bool) -> list[str]:
    """The card's data section: clips, speakers per corpus, and each corpus's licence."""
    if synthetic:
        return [f"- {n_clips} clips of SYNTHETIC audio (ser_img.synth) from {len(speakers)} synthetic speakers. "
                "The names follow RAVDESS's scheme; no RAVDESS audio was used. This model knows nothing about "
                "real speech."]
    by_corpus = Counter(s.split("-", 1)[0] if s.split("-", 1)[0] in CORPORA else "" for s in speakers)
    lines = [f"- {n_clips} clips from {len(speakers)} speakers."]
    for prefix, count in sorted(by_corpus.items(), key=lambda x: (x[0] == "", x[0])):
        if prefix:
            name, terms = CORPORA[prefix]
            ids = ", ".join(s.split("-", 1)[1] for s in speakers if s.startswith(prefix + "-"))
            lines.append(f"- {name}: {_speakers(count)} ({ids}); {terms or UNKNOWN_LICENCE}.")
        else:
            lines.append(f"- Other data, {_speakers(count)} not from a corpus ser-img recognises; "
                         f"{UNKNOWN_LICENCE}.")
    return lines


def weights_licence(speakers: list[str], card_text: str | None) -> str:
    """What a user may do with the weights, in one line: the training data's licences."""
    if card_text and "SYNTHETIC audio" in card_text:
        return "trained on synthetic audio only (no corpus licence applies)"
    corpora = sorted({s.split("-", 1)[0] for s in speakers})
    parts = [f"{SHORT_LICENCES[c]} ({CORPORA[c][0]})" if c in SHORT_LICENCES else
             f"licence unknown ({CORPORA[c][0] if c in CORPORA else 'other data'})" for c in corpora]
    return "weights derived from data under " + ", ".join(dict.fromkeys(parts))


def _speakers(count: int) -> str:
    return f"{count} speaker{'s' * (count != 1)}"


def _architecture(head: str, cnn: dict) -> str:
    common = ("Audio is mixed to mono, resampled, trimmed of leading and trailing silence and rendered to "
              "a log-mel RGB image (settings in model.json). Per speaker-grouped fold: a CNN "
              f"(channels {tuple(cnn['channels'])}, {cnn['embedding_size']}-d embedding, {cnn['epochs']} epochs) ")
    if head == "cnn":
        return common + "learns from the fold's training speakers. The model averages its fold CNNs."
    if head in HEAD_NAMES:
        return common + (f"learns from most training speakers; {HEAD_NAMES[head]} head learns from its embeddings "
                         "of the other speakers plus acoustic descriptors (spectral, cepstral, energy and pitch "
                         "statistics) and gives the output. The model averages its folds' heads.")
    return common + ("learns from most training speakers; MLP, XGBoost and LightGBM heads learn from its "
                     "embeddings of the other speakers plus acoustic descriptors (spectral, cepstral, energy "
                     "and pitch statistics); a logistic regression on the descriptors alone joins them. The "
                     "stack is a weighted geometric vote of the members, its weights (0, 1 or 2 per member; "
                     "model.json, stack_weights) chosen on out-of-fold predictions only. The model averages "
                     "its folds.")


def model_card(info: dict, scores: dict, member_names: list[str], sources: list[str] = ()) -> str:
    """Markdown for MODEL_CARD.md, written into every model directory at training time.

    `sources` are the training clips' paths (to tell synthetic corpora apart).
    """
    speakers = info["speakers"]
    synthetic = is_synthetic(list(sources))
    head = scores["final"]
    lines = [
        f"# Model card: {info['name']}", "",
        "## Data", "", *data_lines(speakers, info["n_clips"], synthetic),
        f"- Classes, in this order: {', '.join(EMOTIONS)}.",
        "", "## Architecture", "", f"Head: `{head}`. " + _architecture(head, info["train_settings"]["cnn"]),
        "", "## Speaker-grouped cross-validation", "",
        f"{len(scores['folds'])} folds of whole speakers; every figure is for speakers the scoring "
        "members never heard. Pooled out-of-fold predictions:", "",
        "| member | accuracy | UAR | macro-F1 |", "|---|---|---|---|",
    ]
    for name in member_names:
        row = scores["overall"][name]
        mark = " (the model's output)" if name == scores["final"] else ""
        lines.append(f"| {name}{mark} | {row['accuracy']:.3f} | {row['uar']:.3f} | {row['macro_f1']:.3f} |")
    acted = all(s.split("-", 1)[0] in CORPORA for s in speakers)
    lines += ["", "## Limits", ""]
    if synthetic:
        lines.append("- Trained on synthetic audio to show the pipeline working: do not use it on real speech.")
    elif acted:
        lines.append("- Trained on acted speech from studio recordings. Expect lower accuracy on spontaneous, "
                     "conversational, noisy, telephone-band or far-field speech, on other languages and accents, "
                     "and on children's voices.")
    else:
        lines.append("- Expect lower accuracy on speech unlike the training data (other speakers, recording "
                     "conditions, languages or speaking styles).")
    lines += [
        "- Cross-validated figures are estimates for new speakers of the same data; a blind test "
        "on other speakers is expected to come out a little lower, other corpora lower still.",
        "- Eight categories; real emotion is graded and mixed. Use the probabilities, not only "
        "the label, and do not use the output to make decisions about individuals.",
        "",
    ]
    return "\n".join(lines)
