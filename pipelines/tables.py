"""The text tables the CLI prints: training's figures, an evaluation, predictions, the demo's
examples and its report, and an answer's outcome in words."""

from __future__ import annotations

import shlex
from pathlib import Path

from ser_img.labels import EMOTIONS
from ser_img.members.registry import MEMBER_ORDER
from ser_img.store.card import figures_table


def metrics_table(scores: dict) -> str:
    """Pooled out-of-fold figures per member, then accuracy/UAR/macro-F1 per fold."""
    members = [name for name in MEMBER_ORDER if name in scores["overall"]]
    lines = ["speaker-grouped cross-validation (pooled out-of-fold predictions)", *figures_table(scores, members)]
    lines += ["* the model's output; log-loss, Brier and ECE (10 bins) say how far its probabilities "
              "can be trusted", "", "per fold, accuracy/UAR/macro-F1:",
              f"{'fold':<6}{'n':>5}  " + "".join(f"{name:<17}" for name in members).rstrip()]
    for fold in scores["folds"]:
        cells = "".join(f"{fold[n]['accuracy']:.2f}/{fold[n]['uar']:.2f}/{fold[n]['macro_f1']:.2f}".ljust(17)
                        for n in members)
        lines.append(f"{fold['fold']:<6}{fold[members[0]]['n']:>5}  {cells}".rstrip())
    if "corpora" in scores:
        lines += ["", "per corpus, accuracy (8-way):", f"{'corpus':<10}{'n':>6}  " + "".join(f"{n:<7}" for n in members)]
        for corpus, row in scores["corpora"].items():
            lines.append(f"{corpus:<10}{row[members[0]]['n']:>6}  " + "".join(f"{row[n]['accuracy']:<7.3f}" for n in members))
    return "\n".join(lines)


def _overlap_lines(report: dict) -> list[str]:
    """The caveat for clips from the model's own training speakers, with the figures apart."""
    lines = []
    if report.get("not_judged"):
        lines.append(f"{len(report['not_judged'])} clip(s) not judged (too short or no speech): left out of the figures")
    if not report.get("n_training_speakers_clips"):
        return lines
    seen, others = report["on_training_speakers"], report["on_other_speakers"]
    speakers = report["training_speakers"]
    named = ", ".join(speakers[:6]) + (f" and {len(speakers) - 6} more" if len(speakers) > 6 else "")
    lines += [f"CAUTION: {report['n_training_speakers_clips']} of {report['n']} clips are from speakers the model "
              f"was trained on ({named}): not a test of new voices.",
              f"  those clips:        accuracy {seen['accuracy']:.3f}  UAR {seen['uar']:.3f}  (n={seen['n']})",
              f"  the other speakers: " + (f"accuracy {others['accuracy']:.3f}  UAR {others['uar']:.3f}  "
                                           f"(n={others['n']})" if others else "none: no figure for new voices")]
    return lines


def evaluation_table(report: dict) -> str:
    """An evaluation's figures, the caveat about training speakers, per-class figures, confusion matrix."""
    lines = [f"{report['n']} clips   accuracy {report['accuracy']:.3f}   UAR {report['uar']:.3f}   "
             f"macro-F1 {report['macro_f1']:.3f}",
             f"calibration: log-loss {report['log_loss']:.3f}   Brier {report['brier']:.3f}   ECE {report['ece']:.3f}"
             " (reliability.png)", *_overlap_lines(report), *_warning_lines(report), "",
             f"{'class':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>6}"]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}{row['support']:>6}")
    lines += ["", "confusion matrix (rows true, columns predicted):",
              " " * 10 + "".join(f"{name[:5]:>6}" for name in EMOTIONS)]
    for name, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{name:<10}" + "".join(f"{count:>6}" for count in row))
    return "\n".join(lines)


def _warning_lines(report: dict) -> list[str]:
    """What the input warnings met say: per kind, the clips that had it and their accuracy."""
    found = report.get("warnings") or {}
    if not found:
        return ["input warnings: none"]
    return ["input warnings (clips, accuracy on them):"] + [
        f"  {kind}: {row['clips']} clip{'s' * (row['clips'] != 1)}, accuracy {row['accuracy']:.3f}"
        for kind, row in found.items()]


def outcome_text(p) -> str:
    """The emotion, or why there is none: 'too short (0.2 s of speech)', 'no speech'."""
    if p.label is not None:
        return p.label
    return f"{p.outcome} ({p.speech_s:.1f} s of speech)" if p.outcome == "too short" else p.outcome


def prediction_table(predictions) -> str:
    """A line per file (emotion and 8 probabilities); a long recording's summary, speakers and segments below it."""
    names = _shown_paths([p.source for p in predictions])
    width = max([len(n) for n in names.values()] + [31]) + 1
    lines = [f"{'file':<{width}}{'emotion':<11}" + "".join(f"{name[:7]:>8}" for name in EMOTIONS)]
    for p in predictions:
        name = names[p.source]
        if not p.judged:
            lines.append(f"{name:<{width}}{outcome_text(p)}")
            continue
        lines.append(f"{name:<{width}}{p.label:<11}" + "".join(f"{x:>8.3f}" for x in p.probabilities))
        if p.is_timeline:
            shares = ", ".join(f"{e} {share:.0%}" for e, share in sorted(zip(EMOTIONS, p.shares), key=lambda x: -x[1])
                               if share > 0)
            lines.append(f"  {p.duration_s:.1f} s, {len(p.timeline)} segments, {p.silent_s:.1f} s silence "
                         f"skipped; time per emotion: {shares}")
            for who in p.speakers or []:
                lines.append(f"  {who.speaker:<8}{who.label:<11}" + "".join(f"{x:>8.3f}" for x in who.probabilities)
                             + f"  {who.speech_s:.1f} s ({who.share:.0%}), {who.turns} turn{'s' * (who.turns != 1)}")
            lines += [f"  {s.start:>9.2f}-{s.end:<9.2f}{(s.speaker or '') + ' ' if p.speakers is not None else ''}"
                      f"{s.label:<11}" + "".join(f"{x:>8.3f}" for x in s.probabilities) for s in p.timeline]
    return "\n".join(lines)


def _shown_paths(sources: list[str | None], longest: int = 60) -> dict:
    """How the table names each file: its name alone where that is unique, else as much of its
    path as tells it apart (two folders may hold files of the same name); long ones cut on the left."""
    names = {s: Path(s or "audio").name for s in sources}
    clashing = {n for n in names.values() if sum(m == n for m in names.values()) > 1}
    shown = {s: (str(s) if n in clashing else n) for s, n in names.items()}
    return {s: n if len(n) <= longest else "…" + n[-(longest - 1):] for s, n in shown.items()}


def examples_table(rows) -> str:
    """The demo's clips: truth, prediction (marked x when wrong) and 8 probabilities."""
    lines = [f"{'file':<28}{'truth':<11}{'predicted':<11}" + "".join(f"{name[:7]:>8}" for name in EMOTIONS)]
    for name, truth, recognition in rows:
        mark = "" if truth == recognition.label else " x"
        lines.append(f"{name:<28}{truth:<11}{recognition.label + mark:<11}"
                     + "".join(f"{p:>8.3f}" for p in recognition.probabilities))
    return "\n".join(lines)


def examples_text(examples) -> str:
    """The demo's first part: the shipped model on the bundled clips (`pipelines.demo.run_examples`)."""
    return "\n".join([f"1. The shipped model, {examples.model_name}, on real speech.\n   Clips: {examples.attribution}\n",
                      examples_table(examples.rows),
                      f"\n{examples.correct} of {len(examples.rows)} right; {examples.note}\n"])


def demo_text(report, workdir: Path, command: str) -> str:
    """The demo's second part (`pipelines.demo.run_demo`): the synthetic model's figures, its
    evaluation and predictions, and the command (`command`, as typed) to try it again."""
    model_dir = report.train.model_dir
    return "\n".join([
        "2. A SYNTHETIC corpus, trained on here: these figures say nothing about real speech.\n",
        metrics_table(report.train.metrics),
        f"\nheld-out synthetic speakers ({report.evaluation.out_dir}):", evaluation_table(report.evaluation.report),
        "\nsample predictions:", prediction_table(report.predictions.predictions),
        f"\nmodel: {model_dir} (SYNTHETIC: for the synthetic clips only, not for real audio)",
        f"try: {command} predict --model {shlex.quote(str(model_dir))} {shlex.quote(str(workdir / 'audio' / 'heldout'))}"])
