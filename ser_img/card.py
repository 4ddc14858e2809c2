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


def _architecture(head: str, info: dict) -> str:
    cnn, train = info["train_settings"]["cnn"], info["train_settings"]
    functionals = info.get("render_settings", {}).get("functionals")
    common = ("Audio is mixed to mono, resampled, trimmed of leading and trailing silence once and rendered "
              "to a log-mel RGB image (settings in model.json); from the same trimmed signal come ser-img's "
              "hand-written acoustic descriptors (spectral, cepstral, energy, pitch and voice-quality "
              "statistics)" + (f" and openSMILE's {functionals} functionals" if functionals else "") + ". "
              f"Per speaker-grouped fold, the training speakers are split into {train['cnns_per_fold']} parts; "
              f"for each part a CNN (channels {tuple(cnn['channels'])}, {cnn['embedding_size']}-d embedding, "
              f"{cnn['epochs']} epochs) learns from the other parts")
    if head == "cnn":
        return common + ". The model averages its CNNs."
    if head in HEAD_NAMES:
        return common + (f", and {HEAD_NAMES[head]} head learns from its embeddings of that part plus the "
                         "descriptors (cross-fitting: every training speaker reaches the head through a CNN "
                         "that never heard it) and gives the output. The model averages its heads.")
    return common + (", and MLP, XGBoost and LightGBM heads learn from its embeddings of that part plus the "
                     "descriptors (cross-fitting: every training speaker reaches the heads through a CNN that "
                     "never heard it). Logistic regressions on the descriptors alone and on the functionals "
                     "alone learn from every training speaker. The stack is a weighted geometric mean of the "
                     "members (integer weights chosen on out-of-fold predictions, then normalised), divided by "
                     "a temperature learned on the same out-of-fold predictions, so that its probabilities are "
                     "calibrated. The model averages its folds.")


def _stack_lines(info: dict) -> list[str]:
    weights = info.get("stack_weights")
    if not weights:
        return []
    unused = [name for name, w in weights.items() if w == 0]
    return ["", "Stack weights (before normalising): " + ", ".join(f"{n} {w}" for n, w in weights.items())
            + f"; temperature {info['stack_temperature']:.3f}."
            + (f" Members with weight 0 ({', '.join(unused)}) add nothing on out-of-fold predictions that the "
               "others do not already give; prediction skips them." if unused else "")]


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
        "", "## Architecture", "", f"Head: `{head}`. " + _architecture(head, info), *_stack_lines(info),
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
    lines += ["", "Log-loss (natural log; a uniform guess scores 2.079), Brier score and expected calibration "
              "error (10 bins) of the out-of-fold probabilities; the reliability diagram is reliability.png."]
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
        "- The probabilities are calibrated on out-of-fold predictions of one fold's members at a time; "
        "the model averages its folds, which tends to soften them a little further. They are calibrated "
        "for speakers like the training ones, not for other corpora.",
        "- Eight categories; real emotion is graded and mixed. Use the probabilities, not only "
        "the label, and do not use the output to make decisions about individuals.",
        "",
    ]
    return "\n".join(lines)
