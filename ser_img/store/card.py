"""The model card: what a model was trained on, how well it does, and where it will not.

The data section describes the data actually used: the corpora recognised from the speaker
ids (RAVDESS, TESS, SAVEE, CREMA-D), how many speakers each gave, their licences where we
know them, and "state your data's licence" for everything else. Synthetic corpora
(ser_img.corpus.synth) carry RAVDESS names but are said to be synthetic.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ser_img.labels import EMOTIONS
from ser_img.corpus.synth import MARKER

# speaker-id prefix -> (corpus, source and licence, or None where we do not know the licence)
CORPORA = {
    "ravdess": ("RAVDESS", "Livingstone & Russo 2018, https://zenodo.org/records/1188976; licensed CC BY-NC-SA "
                           "4.0: weights derived from it are for non-commercial use, with attribution, shared alike"),
    "tess": ("TESS", "Pichora-Fuller & Dupuis 2020, https://doi.org/10.5683/SP2/E8H2MF; licensed CC BY-NC-ND 4.0: "
                     "non-commercial use, with attribution"),
    "crema": ("CREMA-D", "Cao et al. 2014, https://github.com/CheyneyComputerScience/CREMA-D; Open Database "
                         "License (ODbL 1.0)"),
    "savee": ("SAVEE", None),
    "nemo": ("nEMO (Polish)", "Christop 2024, Adam Mickiewicz University; licensed CC BY-NC-SA 4.0: non-commercial "
                              "use, with attribution, shared alike"),
    "ased": ("ASED (Amharic)", "Retta et al. 2022, ACM TALLIP; no licence stated by its authors, published for "
                               "research: research and non-commercial use only"),
    "emovo": ("EMOVO (Italian)", "Costantini et al. 2014, Fondazione Ugo Bordoni; research use under the "
                                 "publisher's terms, non-commercial"),
    "spanish": ("a Spanish corpus of 14 non-professional speakers", "rcebrian/speech-emotion-recognition on "
                "GitHub; no licence stated: research and non-commercial use only"),
    "korean": ("Korean emotional speech, public 5 % subset", "emotiontts_open_db, KAIST / SELVAS AI; research "
                                                              "only, no commercial use"),
}
# The licence of each corpus in a word or two, for short notes (the web page).
SHORT_LICENCES = {"ravdess": "CC BY-NC-SA 4.0", "tess": "CC BY-NC-ND 4.0", "crema": "ODbL 1.0",
                  "nemo": "CC BY-NC-SA 4.0", "ased": "research use", "emovo": "research use",
                  "spanish": "no licence stated", "korean": "research only"}
UNKNOWN_LICENCE = "licence unknown to ser-img: state your data's licence here before sharing this model"


def is_synthetic(sources: list[str]) -> bool:
    """True when every clip lies in a corpus written by ser_img.corpus.synth (its marker file beside it)."""
    folders = {Path(s).parent for s in sources}
    return bool(folders) and all((f / MARKER).is_file() or (f.parent / MARKER).is_file() for f in folders)


def data_lines(speakers: list[str], n_clips: int, synthetic: bool, corpora: dict | None = None) -> list[str]:
    """The card's data section: clips, speakers per corpus, and each corpus's licence.

    `corpora` (model.json's, one entry per image folder trained on) names the corpora when
    there are several; otherwise they are recognised from the speaker ids."""
    if corpora and len(corpora) > 1 and not synthetic:
        lines = [f"- {n_clips} clips from {len(speakers)} speakers of {len(corpora)} corpora; all are for research "
                 "and non-commercial use, so the weights derived from them are too."]
        for folder, about in corpora.items():
            name, terms = _corpus(folder)
            lines.append(f"- {name}: {about['clips']} clips, {_speakers(about['speakers'])}, classes "
                         f"{', '.join(about['classes'])}; {terms or UNKNOWN_LICENCE}.")
        return lines
    if synthetic:
        return [f"- {n_clips} clips of SYNTHETIC audio (ser_img.corpus.synth) from {len(speakers)} synthetic speakers. "
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


def _base_corpus(folder: str) -> tuple[str, str]:
    """(corpus, what the copies are) of an image folder: "X-tel" holds X's clips through a
    telephone channel, "X-mixN" copy N of X's clips under drawn recording conditions."""
    base, _, suffix = folder.rpartition("-")
    if base in CORPORA and suffix == "tel":
        return base, "telephone-band copies (`render --channel telephone`)"
    if base in CORPORA and suffix.startswith("mix") and suffix[3:].isdigit():
        return base, f"copy {suffix[3:]} under drawn recording conditions (`render --channel mix --copy {suffix[3:]}`)"
    return folder, ""


def _corpus(folder: str) -> tuple[str, str | None]:
    """(name, terms) of an image folder's corpus, copies named as such (`_base_corpus`)."""
    base, copies = _base_corpus(folder)
    if base not in CORPORA:
        return f"`{folder}`", None
    name, terms = CORPORA[base]
    return (f"{name}, {copies}" if copies else name), terms


def weights_licence(speakers: list[str], card_text: str | None, trained_on=None) -> str:
    """What a user may do with the weights, in one line: the training data's licences."""
    if card_text and "SYNTHETIC audio" in card_text:
        return "trained on synthetic audio only (no corpus licence applies)"
    several = trained_on and len(trained_on) > 1  # one folder: its name says nothing; the speaker ids do
    corpora = sorted(trained_on) if several else sorted({s.split("-", 1)[0] for s in speakers})
    corpora = sorted({_base_corpus(c)[0] for c in corpora})
    parts = [f"{SHORT_LICENCES[c]} ({CORPORA[c][0]})" if c in SHORT_LICENCES else
             f"licence unknown ({CORPORA[c][0] if c in CORPORA else 'other data'})" for c in corpora]
    return "weights derived from data under " + ", ".join(dict.fromkeys(parts))


def _speakers(count: int) -> str:
    return f"{count} speaker{'s' * (count != 1)}"


def _encoder_origin() -> dict:
    import json

    from ser_img.features.encoder import WEIGHTS

    return json.loads((WEIGHTS.parent / "ORIGIN.json").read_text(encoding="utf-8"))


def _architecture(head: str, info: dict) -> str:
    from ser_img.members.registry import CNN, REGISTRY, needs_cnn

    cnn, train = info["train_settings"]["cnn"], info["train_settings"]
    rendering = info.get("render_settings", {})
    members = list(info.get("members", [CNN]))
    sources = ["ser-img's hand-written acoustic descriptors (spectral, cepstral, energy, pitch and voice-quality "
               "statistics)"]
    if rendering.get("functionals"):
        sources.append(f"openSMILE's {rendering['functionals']} functionals")
    if rendering.get("encoder_layer"):
        sources.append(f"a pretrained voice encoder's vector (the GE2E speaker encoder that the PyPI package "
                       f"resemblyzer 0.1.4 ships, Apache-2.0, trained by its authors; wheel sha256 "
                       f"{_encoder_origin()['wheel_sha256'][:16]}..., converted to NumPy arrays by ser-img's "
                       f"tools/convert_resemblyzer.py: mean and standard deviation over time of its LSTM layer "
                       f"{rendering['encoder_layer']}'s frame outputs)")
    if rendering.get("whisper_blocks"):
        blocks = " and ".join(str(b) for b in rendering["whisper_blocks"])
        sources.append(f"Whisper tiny.en's encoder (OpenAI, MIT; SYSTRAN's CTranslate2 conversion, ported to NumPy "
                       f"by ser-img's tools/convert_whisper_tiny.py): mean and standard deviation over time of its "
                       f"transformer block{'s' * (len(rendering['whisper_blocks']) > 1)} {blocks}"
                       + (", run in int8 by LiteRT (tools/convert_whisper_lite.py)"
                          if rendering.get("whisper_precision") == "int8" else ""))
    levelled = (f"brought to an active speech level of {rendering['level_dbfs']:g} dBFS (ITU-T P.56's method, "
                "up or down, so that no member reads the recording's level) and " if rendering.get("level_dbfs") else "")
    text = ("Audio is mixed to mono, resampled, trimmed of leading and trailing silence once, " + levelled +
            "rendered to a log-mel RGB image (settings in model.json); from the same trimmed signal come "
            + ", ".join(sources) + ". ")
    if needs_cnn(members):
        text += (f"Per speaker-grouped fold, the training speakers are split into {train['cnns_per_fold']} parts; "
                 f"for each part a CNN (channels {tuple(cnn['channels'])}, {cnn['embedding_size']}-d embedding, "
                 f"{cnn['epochs']} epochs) learns from the other parts, and the heads on its embeddings learn "
                 "from that part (cross-fitting: every training speaker reaches a head through a CNN that never "
                 "heard it). ")
    if info.get("cnns_from"):
        text += (f"The CNNs and the heads on their embeddings are model {info['cnns_from']}'s, kept fold by fold "
                 "(`ser-img train --keep-cnns`); the other members and the stack were fitted anew on the same folds. ")
    text += "Members: " + "; ".join("`cnn`: the CNNs' own softmax" if m == CNN else f"`{m}`: {REGISTRY[m].about}"
                                    for m in members) + ". "
    if len(info.get("corpora") or {}) > 1:
        weighs = {"clips": "its clip count", "equal": "the same", "sqrt": "the square root of its clip count"}
        home = info.get("home_corpus", "the first image folder given")
        text += (f"Several corpora are trained on: within each corpus every class weighs the same, each corpus "
                 f"weighs {weighs.get(train.get('corpus_weighting'), '?')} (`corpus_weighting`) and the home corpus "
                 f"({home}) {train.get('home_share', 0):.0%} of the whole (`home_share`); each clip is evidence only "
                 "about the classes its corpus has (the logistic regressions' softmax runs over those alone). "
                 + (f"The CNNs learn from {home} alone, with its copies under simulated channels or recording "
                    "conditions if any were given (`cnn_corpora`). " if train.get("cnn_corpora") == "home" else ""))
    if head == "stack":
        several = len(info.get("corpora") or {}) > 1
        text += ("The stack is a weighted geometric mean of the members (integer weights chosen on out-of-fold "
                 + (f"predictions for {train.get('home_share', 0):.0%} the home corpus's accuracy and the rest the "
                    "mean of the other corpora's" if several else "predictions") + ", then normalised), divided by "
                 "a temperature learned on the same out-of-fold predictions, so that its probabilities are "
                 "calibrated. ")
    return text + "The model averages its folds."


def _stack_lines(info: dict) -> list[str]:
    weights = info.get("stack_weights")
    if not weights:
        return []
    unused = [name for name, w in weights.items() if w == 0]
    return ["", "Stack weights (before normalising): " + ", ".join(f"{n} {w}" for n, w in weights.items())
            + f"; temperature {info['stack_temperature']:.3f}."
            + (f" Members with weight 0 ({', '.join(unused)}) add nothing on out-of-fold predictions that the "
               "others do not already give: they were trained and measured, and are not shipped." if unused else "")]


# The figures a model is judged by, in the order every table gives them: (heading, key, width on a terminal).
FIGURES = (("accuracy", "accuracy", 10), ("UAR", "uar", 8), ("macro-F1", "macro_f1", 10),
           ("log-loss", "log_loss", 10), ("Brier", "brier", 8), ("ECE", "ece", 8))


def figures_table(scores: dict, members: list[str], markdown: bool = False) -> list[str]:
    """The pooled out-of-fold figures of `scores` (training's metrics), a row per member with the
    model's output marked: fixed-width for the terminal, or Markdown for this card. The one place
    these figures are laid out (`ser-img train` and the demo print the first kind)."""
    final = scores["final"]
    if markdown:
        lines = ["| member | " + " | ".join(h for h, _, _ in FIGURES) + " |", "|---|" + "---|" * len(FIGURES)]
        for name in members:
            row, mark = scores["overall"][name], " (the model's output)" if name == final else ""
            lines.append(f"| {name}{mark} | " + " | ".join(f"{row[k]:.3f}" for _, k, _ in FIGURES) + " |")
        return lines
    lines = [f"{'model':<8}" + "".join(f"{h:>{w}}" for h, _, w in FIGURES)]
    for name in members:
        row, mark = scores["overall"][name], " *" if name == final else ""
        lines.append(f"{name + mark:<8}" + "".join(f"{row[k]:>{w}.3f}" for _, k, w in FIGURES))
    return lines


def model_card(info: dict, scores: dict, member_names: list[str], sources: list[str] = ()) -> str:
    """Markdown for MODEL_CARD.md, written into every model directory at training time.

    `sources` are the training clips' paths (to tell synthetic corpora apart).
    """
    speakers = info["speakers"]
    synthetic = is_synthetic(list(sources))
    head = scores["final"]
    lines = [
        f"# Model card: {info['name']}", "",
        "## Data", "", *data_lines(speakers, info["n_clips"], synthetic, info.get("corpora")),
        f"- Classes, in this order: {', '.join(EMOTIONS)}.",
        "", "## Architecture", "", f"Head: `{head}`. " + _architecture(head, info), *_stack_lines(info),
        "", "## Speaker-grouped cross-validation", "",
        f"{len(scores['folds'])} folds of whole speakers; every figure is for speakers the scoring "
        "members never heard. Pooled out-of-fold predictions:", "",
        *figures_table(scores, member_names, markdown=True),
    ]
    lines += ["", "Log-loss (natural log; a uniform guess scores 2.079), Brier score and expected calibration "
              "error (10 bins) of the out-of-fold probabilities; the reliability diagram is reliability.png."]
    if scores.get("corpora"):
        lines += ["", f"Per corpus (out-of-fold, 8-way; `{head}` is the model's output):", "",
                  "| corpus | clips | " + " | ".join(member_names) + f" | {head} UAR | {head} ECE |",
                  "|---|---|" + "---|" * (len(member_names) + 2)]
        for corpus, row in scores["corpora"].items():
            lines.append(f"| {corpus} | {row[head]['n']} | " + " | ".join(f"{row[m]['accuracy']:.3f}" for m in member_names)
                         + f" | {row[head]['uar']:.3f} | {row[head]['ece']:.3f} |")
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
    if len(info.get("corpora") or {}) > 1:
        lines.append("- The per-corpus figures are for new speakers of corpora it learned from. On a corpus none of "
                     "its training data comes from (another language, studio or channel), expect much less: "
                     "leave-one-corpus-out estimates are in ser-img's docs/results.md.")
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
