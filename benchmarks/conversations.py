"""Conversations: how well the recognizer tells who spoke when, and what each turn felt.

    python benchmarks/conversations.py [--conversations 12] [--speakers 2,3,4] [--seed 0]
        [--corpora ravdess,nemo,ased,emovo,spanish,korean] [--snr 30] [--model DIR]
        [--cache DIR] [--variants 1,0.3,3,snr15] [--variant-speakers 1,2,3,4] [--no-emotion]

Conversations are built from the corpora in ../shared by benchmarks/conversation_build.py (its
docstring says how), the same ones for the same seed: 1-4 different speakers of one corpus
taking turns, one clip a turn, the i-th conversation of each size from the i-th corpus.

First, who spoke when at other input levels and noise (`--variants`): the 1-4-speaker
conversations as built (gain 1, 30 dB), scaled by 0.3 and by 3 (clipped), and built with noise
15 dB below the speech, each diarized by the recognizer's own path without the emotions (voice
detector, pieces, CAM++ once, clustered with `auto` and with the true count, turns): DER and
how often the count is right.

Then (unless `--no-emotion`) each 2-4-speaker conversation as built is scored with the
recognizer's diarizing prediction, once with
`speakers="auto"` and once told the true count, and each of its clips is scored alone
(`recognizer.predict(clip)`). Diarization error rate: ser_img.conversation.der (missed + false alarm +
confusion over scored reference speech, 0.25-s collar each side of every reference boundary,
overlap scored), the hypothesis being the timeline's segments, each speaker's merged.

Emotion per turn, truth being the clip's label, three ways on the same turns:
- in the conversation: the mean of the probabilities of the timeline's segments that overlap the
  reference turn, each weighed by how long it overlaps it; its likeliest class. Whoever the
  segments are given to: this is what the timeline says was felt then, and it is the figure set
  against the clips alone (the target: within 10 points). Diarization errors count in it only
  through where the recognizer cut turns (a window over two people's speech); a turn that no
  segment overlaps is wrong.
- as their speaker's: the same from the segments of the hypothesis speaker that the DER's optimal
  mapping puts on the turn's speaker only (none: wrong), i.e. "who felt what" right on both counts.
- cut turns: the reference turn cut from the conversation's audio (noise and overlaps in) and
  scored as an array: what perfect diarization would leave.
And each turn's clip alone, twice: as recorded (`recognizer.predict(clip)`), and in the
conversation's noise (its speech at its level in the conversation over its stretch of the same
noise, nobody else speaking: `conversation_build.solo_turns`), so that what the conversation
costs (finding turns and voices, overlaps) is told apart from what the noise costs.
A clip alone that gets no judgement counts as wrong.

Results: benchmarks/results/conversations.{md,json} (with another `--snr`, conversations_snrN;
with `--no-emotion`, a `_diarization` suffix).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile
from common import RESULTS, describe_model, machine, save_results
from conversation_build import CORPORA, RATE, SHARED, SNR_DB, build_all, solo_turns, with_gain

from ser_img import EmotionRecognizer
from ser_img.conversation import speakers as voices
from ser_img.conversation.der import diarization_error, merge_turns
from ser_img.labels import EMOTIONS
from ser_img.scoring.conversation import find_speech


# -- scoring -----------------------------------------------------------------------------------


def turn_label(turn: dict, timeline: Sequence, speaker: str | None = None) -> str | None:
    """The likeliest class of the overlap-weighted mean probabilities of the segments overlapping
    the turn (only `speaker`'s, when given); None when none overlaps it."""
    weights, rows = [], []
    for segment in timeline:
        shared = min(segment.end, turn["end"]) - max(segment.start, turn["start"])
        if shared > 0 and (speaker is None or segment.speaker == speaker):
            weights.append(shared)
            rows.append(segment.probabilities)
    if not weights:
        return None
    return EMOTIONS[int(np.argmax(np.average(np.array(rows), axis=0, weights=np.array(weights))))]


def score_conversation(recognizer: EmotionRecognizer, wav: Path, info: dict, speakers) -> dict:
    """DER, its parts and each turn's label, whoever is said to speak it and as its speaker's."""
    began = time.perf_counter()
    result = recognizer.predict(wav, speakers=speakers)
    seconds = time.perf_counter() - began
    reference = [(t["start"], t["end"], t["speaker"]) for t in info["turns"]]
    hypothesis = merge_turns((s.start, s.end, s.speaker) for s in result.timeline)
    error = diarization_error(reference, hypothesis)
    speaker_for = {ref: hyp for hyp, ref in error.mapping.items()}
    labels = [turn_label(t, result.timeline) for t in info["turns"]]
    theirs = [turn_label(t, result.timeline, speaker_for.get(t["speaker"], "")) for t in info["turns"]]
    return {**error.to_dict(), "wall_s": seconds, "hyp_speakers": len({s for *_, s in hypothesis}),
            "hyp_turns": len(hypothesis), "turn_labels": labels,
            "turn_correct": [p == t["label"] for p, t in zip(labels, info["turns"])],
            "attributed_correct": [p == t["label"] for p, t in zip(theirs, info["turns"])]}


def score_cut_turns(recognizer: EmotionRecognizer, wav: Path, info: dict) -> list[bool]:
    """Each reference turn cut from the conversation (noise, overlaps and all) and scored alone:
    what perfect diarization would leave."""
    audio, rate = soundfile.read(str(wav), dtype="float32")
    cuts = [audio[int(t["start"] * rate) : int(t["end"] * rate)] for t in info["turns"]]
    return [recognizer.predict(cut, sr=rate).label == t["label"] for cut, t in zip(cuts, info["turns"])]


def score_solo_turns(recognizer: EmotionRecognizer, info: dict, shared: Path) -> list[bool]:
    """Each turn's clip alone in the conversation's noise, at its level there."""
    return [recognizer.predict(solo, sr=RATE).label == t["label"]
            for solo, t in zip(solo_turns(info, shared), info["turns"])]


def score_clips(recognizer: EmotionRecognizer, paths: Sequence[str]) -> tuple[dict[str, str | None], float]:
    """Each clip alone: its label (None when not judged), and the wall time it all took."""
    began = time.perf_counter()
    labels = {path: recognizer.predict(path).label for path in paths}
    return labels, time.perf_counter() - began


def diarize_only(recognizer: EmotionRecognizer, wav: Path, info: dict) -> dict:
    """Who spoke when, without the emotions: the recognizer's own path (its voice detector, pieces,
    CAM++ embeddings computed once, clustered with `auto` and with the true count), turns as
    the hypothesis. DER and the speakers found, per way of telling."""
    audio, rate = soundfile.read(str(wav), dtype="float32")
    spans = voices.pieces(find_speech(recognizer, [audio], None).spans(), rate)
    vectors = voices.embed_pieces(spans, (audio[a:b] for a, b in spans), rate)
    reference = [(t["start"], t["end"], t["speaker"]) for t in info["turns"]]
    out = {}
    for told, count in (("auto", None), ("true count", info["n_speakers"])):
        turns = voices.turns(spans, voices.assign(spans, vectors, rate, count), rate)
        error = diarization_error(reference, [(t.start / rate, t.end / rate, f"S{t.speaker}") for t in turns])
        out[told] = {"der": error.rate, "found": len({t.speaker for t in turns}), "n": info["n_speakers"]}
    return out


def score_variants(recognizer: EmotionRecognizer, args) -> dict:
    """DER and speaker counts of 1-4-speaker conversations at each input variant."""
    table = {}
    for variant in args.variants:
        snr = float(variant[3:]) if variant.startswith("snr") else args.snr
        gain = 1.0 if variant.startswith("snr") else float(variant)
        built = build_all(args.corpora.split(","), args.variant_speakers, args.conversations, args.seed, snr,
                          args.cache, args.shared)
        rows = [diarize_only(recognizer, *with_gain(wav, info, gain)) for wav, info in built]
        table[variant] = {told: summarise_counts([r[told] for r in rows]) for told in ("auto", "true count")}
    return table


def summarise_counts(rows: list[dict]) -> dict:
    by_n: dict = {}
    for row in rows:
        by_n.setdefault(row["n"], []).append(row)
    out = {str(n): {"der_mean": float(np.mean([r["der"] for r in v])),
                    "right_count_share": float(np.mean([r["found"] == n for r in v])),
                    "found_mean": float(np.mean([r["found"] for r in v])), "conversations": len(v)}
           for n, v in sorted(by_n.items())}
    several = [r for r in rows if r["n"] > 1]
    out["2-4"] = {"der_mean": float(np.mean([r["der"] for r in several])) if several else float("nan"),
                  "right_count_share": float(np.mean([r["found"] == r["n"] for r in several])) if several else float("nan"),
                  "found_mean": float("nan"), "conversations": len(several)}
    out["all"] = {"der_mean": float("nan"), "right_count_share": float(np.mean([r["found"] == r["n"] for r in rows])),
                  "found_mean": float("nan"), "conversations": len(rows)}
    return out


# -- the report --------------------------------------------------------------------------------


def summarise(rows: list[dict]) -> dict:
    """Mean and pooled DER, its pooled parts (shares of scored speech), accuracies and speed."""
    scored = sum(r["scored_s"] for r in rows)
    def accuracy(key: str) -> float:
        return float(np.mean([c for r in rows for c in r[key]]))
    audio = sum(r["duration_s"] for r in rows)
    return {
        "conversations": len(rows), "turns": sum(len(r["turn_correct"]) for r in rows), "audio_s": audio,
        "der_mean": float(np.mean([r["der"] for r in rows])),
        "der_pooled": sum(r["missed_s"] + r["false_alarm_s"] + r["confusion_s"] for r in rows) / scored,
        "missed": sum(r["missed_s"] for r in rows) / scored,
        "false_alarm": sum(r["false_alarm_s"] for r in rows) / scored,
        "confusion": sum(r["confusion_s"] for r in rows) / scored,
        "speakers_found_mean": float(np.mean([r["hyp_speakers"] for r in rows])),
        "right_count_share": float(np.mean([r["hyp_speakers"] == r["n_speakers"] for r in rows])),
        "hyp_turns_per_turn": sum(r["hyp_turns"] for r in rows) / sum(len(r["turn_correct"]) for r in rows),
        "turn_accuracy": accuracy("turn_correct"), "attributed_accuracy": accuracy("attributed_correct"),
        "cut_accuracy": accuracy("cut_correct"), "alone_accuracy": accuracy("alone_correct"),
        "solo_accuracy": accuracy("solo_correct"),
        "turns_unlabelled": sum(1 for r in rows for label in r["turn_labels"] if label is None),
        "turns_under_half_a_second": sum(1 for r in rows for seconds in r["turn_s"] if seconds < 0.5),
        "turn_s_mean": float(np.mean([seconds for r in rows for seconds in r["turn_s"]])),
        "wall_s": sum(r["wall_s"] for r in rows), "real_time_factor": sum(r["wall_s"] for r in rows) / audio,
    }


def groups(rows: list[dict], key) -> dict:
    found: dict = {}
    for row in rows:
        found.setdefault(key(row), []).append(row)
    return {k: summarise(v) for k, v in sorted(found.items())}


TARGET = {"auto": 12, "true count": 8}  # DER, %


VARIANT_NAMES = {"1": "gain x1, 30 dB", "0.3": "gain x0.3", "3": "gain x3 (clipped)", "snr15": "15 dB SNR"}


def variants_markdown(results: dict) -> list[str]:
    """The who-spoke-when table: DER (mean) and speakers found right, per variant, count and way of telling."""
    pct = lambda x: "-" if x != x else f"{100 * x:.1f} %"  # noqa: E731
    table = results["variants"]
    counts = [k for k in next(iter(table.values()))["auto"] if k != "all"]
    lines = ["## Who spoke when, at other levels and noise", "",
             f"Conversations of 1-4 speakers (seed {results['seed']}; the same ones in each row, scaled by the gain "
             "and clipped to [-1, 1], or built with louder noise), diarized by the recognizer's own path (voice "
             "detector, 1.6-s pieces, CAM++, clustering, turns) without scoring emotions; the hypothesis is the "
             "turns. Each cell: DER mean / speakers found right. Targets: `auto` DER <= 12 %, told <= 8 % over "
             "2-4 speakers; count right in >= 90 %.", "",
             "| input | told | " + " | ".join({"1": "1 speaker", "2-4": "2-4 speakers"}.get(k, f"{k} speakers") for k in counts)
             + " | count right, all |", "|---|---|" + "---|" * (len(counts) + 1)]
    for variant, by_told in table.items():
        for told, x in by_told.items():
            cells = " | ".join(f"{pct(x[k]['der_mean'])} / {100 * x[k]['right_count_share']:.0f} %" for k in counts)
            lines.append(f"| {VARIANT_NAMES.get(variant, variant)} | {told} | {cells} | "
                         f"{100 * x['all']['right_count_share']:.0f} % |")
    return lines + [""]


def markdown(results: dict, command: str) -> str:
    lines = ["# Conversations: who spoke when, and what each turn felt", ""]
    lines += variants_markdown(results) if results["variants"] else []
    if "by_count" in results:
        lines += emotion_markdown(results)
    m = results["machine"]
    lines += [f"Machine: {m['nproc']} cores (shared with other work), {m['cpu']}; Python {m['python']}; "
              f"model {results['model']}; code {results['code']}; {results['date']}.", "",
              f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


def emotion_markdown(results: dict) -> list[str]:
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    lines = ["## Who spoke when and what each turn felt, at gain x1", "",
             f"{results['conversations']} conversations built from the corpora in ../shared (seed {results['seed']}; "
             "how: the docstring of `benchmarks/conversation_build.py`): 2, 3 or 4 speakers of one corpus, one clip "
             "a turn, 2-3 min, pauses 0.2-1.5 s, 15 % of speaker changes overlapping by 0.2-0.5 s, white noise "
             f"{results['snr_db']:g} dB below the speech. `told`: `speakers=\"auto\"` or the true count.", "",
             "Who spoke when, from the full prediction. DER: missed + false alarm + confusion over scored reference "
             "speech, 0.25-s collar each side of every reference boundary, overlap scored (`ser_img.conversation.der`); "
             "mean over conversations, then pooled over all of them, with its parts; speakers found: mean count, and "
             "how often right; turns found: the timeline's merged turns per reference turn. The hypothesis is the "
             "timeline's scored segments (turns with too little speech to score are left out of it).", "",
             "| speakers | told | conv. | audio | DER mean (target) | DER pooled | missed | false alarm | confusion "
             "| speakers found (right) | turns found per turn | real-time factor |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for told, by_count in results["by_count"].items():
        for n, x in by_count.items():
            lines.append(f"| {n} | {told} | {x['conversations']} | {x['audio_s'] / 60:.1f} min | {pct(x['der_mean'])} "
                         f"(<= {TARGET[told]} %) | {pct(x['der_pooled'])} | {pct(x['missed'])} | "
                         f"{pct(x['false_alarm'])} | {pct(x['confusion'])} | {x['speakers_found_mean']:.2f} "
                         f"({100 * x['right_count_share']:.0f} %) | {x['hyp_turns_per_turn']:.2f} | "
                         f"{x['real_time_factor']:.3f} |")
    lines += ["", "What each turn felt (truth: the clip's label). In the conversation: the overlap-weighted mean "
              "probabilities of the timeline's segments over the reference turn, whoever they are given to; as "
              "their speaker's: only the segments of the speaker the DER maps onto the turn's (none: wrong). "
              "Alone: each clip scored by itself (`predict(clip)`; target: within 10 points); in the same noise: "
              "the clip's speech at its level in the conversation over its stretch of the same noise, nobody "
              "else speaking (the conversation's cost without the noise's). Cut turns: the "
              "reference turn cut from the conversation, noise and overlaps in, scored as an array (what "
              "perfect diarization would leave).", "",
              "| speakers | told | turns | in the conversation | as their speaker's | alone | difference "
              "| alone, same noise | difference | cut turns |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for told, by_count in results["by_count"].items():
        for n, x in by_count.items():
            difference = 100 * (x["turn_accuracy"] - x["alone_accuracy"])
            in_noise = 100 * (x["turn_accuracy"] - x["solo_accuracy"])
            lines.append(f"| {n} | {told} | {x['turns']} | {pct(x['turn_accuracy'])} | "
                         f"{pct(x['attributed_accuracy'])} | {pct(x['alone_accuracy'])} | {difference:+.1f} | "
                         f"{pct(x['solo_accuracy'])} | {in_noise:+.1f} | {pct(x['cut_accuracy'])} |")
    lines += ["", "By corpus (2, 3 and 4 speakers together):", "",
              "| corpus | told | conv. | DER mean | missed | false alarm | confusion | speakers found | "
              "turns found per turn | in the conversation | cut turns | alone, same noise | alone |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for told, by_corpus in results["by_corpus"].items():
        for corpus, x in by_corpus.items():
            lines.append(f"| {corpus} | {told} | {x['conversations']} | {pct(x['der_mean'])} | {pct(x['missed'])} | "
                         f"{pct(x['false_alarm'])} | {pct(x['confusion'])} | {x['speakers_found_mean']:.2f} | "
                         f"{x['hyp_turns_per_turn']:.2f} | {pct(x['turn_accuracy'])} | {pct(x['cut_accuracy'])} | "
                         f"{pct(x['solo_accuracy'])} | {pct(x['alone_accuracy'])} |")
    return lines + ["", f"Real-time factor: wall time of `predict(conversation, speakers=...)` over the audio's "
                    f"length. Clips alone: {results['clips']} clips in {results['clips_wall_s']:.0f} s.", "",
                    "Every speaker here was in the shipped model's training data (it learnt from all the clips of "
                    "these corpora), so the accuracies are not those on new voices: what this measures is turns "
                    "against the same clips alone.", ""]


# -- main --------------------------------------------------------------------------------------


def code_version() -> str:
    """The commit, and whether the working tree differed from it."""
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if git("status", "--porcelain") else "")


def score_all(recognizer: EmotionRecognizer, built: list[tuple[Path, dict]], alone: dict,
              shared: Path) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {"auto": [], "true count": []}
    for wav, info in built:
        truth = [t["label"] for t in info["turns"]]
        common = {"corpus": info["corpus"], "n_speakers": info["n_speakers"], "wav": str(wav),
                  "turn_s": [round(t["end"] - t["start"], 3) for t in info["turns"]],
                  "duration_s": info["duration_s"], "cut_correct": score_cut_turns(recognizer, wav, info),
                  "alone_correct": [alone[t["clip"]] == label for t, label in zip(info["turns"], truth)],
                  "solo_correct": score_solo_turns(recognizer, info, shared)}
        for told, speakers in (("auto", "auto"), ("true count", info["n_speakers"])):
            rows[told].append({**common, **score_conversation(recognizer, wav, info, speakers)})
    return rows


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=12, help="per speaker count")
    parser.add_argument("--speakers", type=lambda s: [int(x) for x in s.split(",")], default=[2, 3, 4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--snr", type=float, default=SNR_DB, help="dB of speech RMS over the white noise")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ser_img_conversations"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--variants", type=lambda s: [x for x in s.split(",") if x], default=["1", "0.3", "3", "snr15"],
                        help="who-spoke-when table: gains (1, 0.3, 3) and SNRs (snr15); empty: none")
    parser.add_argument("--variant-speakers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3, 4])
    parser.add_argument("--no-emotion", action="store_true", help="only the who-spoke-when table of the variants")
    return parser.parse_args()


def command_line(args: argparse.Namespace) -> str:
    words = [f"--conversations {args.conversations}", f"--speakers {','.join(map(str, args.speakers))}",
             f"--seed {args.seed}", f"--corpora {args.corpora}", f"--snr {args.snr:g}",
             f"--variants {','.join(args.variants)}", f"--variant-speakers {','.join(map(str, args.variant_speakers))}"]
    words += ["--no-emotion"] if args.no_emotion else []
    return " ".join(["python benchmarks/conversations.py", *words] + ([f"--model {args.model}"] if args.model else []))


def main() -> None:
    args = arguments()
    model_dir = args.model or Path(__file__).resolve().parents[1] / "ser_img" / "default_model"
    recognizer = EmotionRecognizer.load(model_dir)
    results = {"seed": args.seed, "snr_db": args.snr, "model": describe_model(model_dir), "machine": machine(),
               "date": time.strftime("%Y-%m-%d"), "code": code_version(), "variants": score_variants(recognizer, args)}
    if not args.no_emotion:
        built = build_all(args.corpora.split(","), args.speakers, args.conversations, args.seed, args.snr,
                          args.cache, args.shared)
        alone, clips_wall = score_clips(recognizer, sorted({t["clip"] for _, info in built for t in info["turns"]}))
        rows = score_all(recognizer, built, alone, args.shared)
        results.update({
            "conversations": len(built), "clips": len(alone), "clips_wall_s": clips_wall,
            "by_count": {told: groups(r, lambda row: row["n_speakers"]) for told, r in rows.items()},
            "by_corpus": {told: groups(r, lambda row: row["corpus"]) for told, r in rows.items()},
            "conversations_detail": rows})
    name = "conversations" if args.snr == SNR_DB else f"conversations_snr{args.snr:g}"
    name += "_diarization" if args.no_emotion else ""
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")  # kept should the table fail
    save_results(name, results, markdown(results, command_line(args)))


if __name__ == "__main__":
    main()
