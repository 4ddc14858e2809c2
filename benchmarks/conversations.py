"""Conversations: how well the recognizer tells who spoke when, and what each turn felt.

    python benchmarks/conversations.py [--conversations 12] [--speakers 2,3,4] [--seed 0]
        [--corpora ravdess,nemo,ased,emovo,spanish,korean] [--snr 30] [--model DIR]
        [--cache DIR]

Builds conversations from the corpora in ../shared, the same ones for the same seed: 2, 3 or 4
different speakers of one corpus (the i-th conversation of each size takes the i-th corpus,
round robin; speakers with at least 20 clips) take turns, one clip a turn, each turn by a
different speaker than the last.
Each clip is cut to its speech (frames of 1024 samples every 256 at 16 kHz, kept from the first
to the last frame less than 40 dB below the clip's loudest, the rule `ser-img render` trims
with, and at least 10 dB above the noise added below: a quiet clip's soft ends and the room
noise of RAVDESS's quietest clips, which the 40-dB rule alone keeps, would be under the noise in
the mix), and the reference turn is exactly where that cut speech lies. Each speaker's clips are
scaled by one gain that brings all their speech to the same RMS (-26 dBFS), as if each speaker
had a microphone level of their own: the corpora's speakers were recorded at quite different
levels, which would bury the quiet ones under the noise. A speaker's clips keep their levels
relative to each other (loud anger, quiet sadness). Between turns a pause drawn uniformly from
0.2-1.5 s; at 15 % of the changes of speaker, the next one starts 0.2-0.5 s (at most half of
either turn) before the last one ends instead (both heard, mixed). White noise whose RMS is
30 dB (`--snr`) below that speech level runs under the whole conversation, which is 2-3 minutes
long (drawn uniformly; shorter when its speakers run out of clips), 16-kHz 16-bit WAV, written
with a JSON of its reference turns to the cache folder (reused when there).

Then each conversation is scored with the recognizer's diarizing prediction, once with
`speakers="auto"` and once told the true count, and each of its clips is scored alone
(`recognizer.predict(clip)`). Diarization error rate: ser_img.conversation.der (missed + false alarm +
confusion over scored reference speech, 0.25-s collar each side of every reference boundary,
overlap scored), the hypothesis being the timeline's segments, each speaker's merged.

Emotion per turn, truth being the clip's label, three ways on the same turns:
- in the conversation: the mean of the probabilities of the timeline's segments that overlap the
  reference turn, each weighed by how long it overlaps it; its likeliest class. Whoever the
  segments are given to: this is what the timeline says was felt then, and it is the figure set
  against the clips alone (the target: within 3 points). Diarization errors count in it only
  through where the recognizer cut turns (a window over two people's speech); a turn that no
  segment overlaps is wrong.
- as their speaker's: the same from the segments of the hypothesis speaker that the DER's optimal
  mapping puts on the turn's speaker only (none: wrong), i.e. "who felt what" right on both counts.
- cut turns: the reference turn cut from the conversation's audio (noise and overlaps in) and
  scored as an array: what perfect diarization would leave.
A clip alone that gets no judgement counts as wrong.

Results: benchmarks/results/conversations.{md,json} (with another `--snr`, conversations_snrN).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from common import describe_model, machine, save_results

from ser_img import EmotionRecognizer
from ser_img.audio.decode import load_audio
from ser_img.conversation.der import diarization_error, merge_turns
from ser_img.labels import EMOTIONS, parse_ravdess_name
from ser_img.audio.signal import frame

RATE = 16000
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = ("ravdess", "nemo", "ased", "emovo", "spanish", "korean")
FORMAT = 6  # bump when the way conversations are built changes, so cached ones are rebuilt

N_FFT, HOP, TRIM_DB = 1024, 256, 40.0  # the speech rule, as `ser-img render` trims
PAUSE_S = (0.2, 1.5)
OVERLAP_S = (0.2, 0.5)
OVERLAP_SHARE = 0.15
LENGTH_S = (120.0, 180.0)
SNR_DB = 30.0
SPEECH_RMS = 0.05  # -26 dBFS: every speaker's speech, all their turns together
AUDIBLE_DB = 10.0  # speech: frames at least this far above the added noise too
EDGE_S = 0.5  # silence (and noise) before the first turn and after the last
MIN_CLIPS = 20  # a speaker with fewer clips (some of ASED's) would run out before the conversation ends


@dataclass(frozen=True, order=True)
class Clip:
    path: str
    label: str
    speaker: str


# -- the corpora -----------------------------------------------------------------------------


def corpus_clips(corpus: str, shared: Path = SHARED) -> list[Clip]:
    """Every clip of a corpus with its label and speaker, sorted by path."""
    if corpus == "ravdess":
        clips = []
        for path in sorted((shared / "ravdess").glob("Actor_*/*.flac")):
            info = parse_ravdess_name(path.stem)
            clips.append(Clip(str(path), info.label, info.speaker))
        return clips
    folder = shared / "corpora" / corpus
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        return sorted(Clip(str(folder / row["path"]), row["label"], row["speaker"]) for row in csv.DictReader(handle))


def by_speaker(clips: Sequence[Clip]) -> dict[str, list[Clip]]:
    speakers: dict[str, list[Clip]] = {}
    for clip in clips:
        speakers.setdefault(clip.speaker, []).append(clip)
    return speakers


def speech_bounds(samples: np.ndarray, floor_db: float = -np.inf) -> tuple[int, int]:
    """First and last sample of the frames less than TRIM_DB below the loudest one and above
    `floor_db` (dBFS; the loudest frame counts whatever the floor)."""
    if len(samples) < N_FFT:
        return 0, len(samples)
    power = np.mean(frame(samples, N_FFT, HOP) ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    loud = np.flatnonzero(level >= min(level.max(), max(level.max() - TRIM_DB, floor_db)))
    return int(loud[0] * HOP), int(min(len(samples), loud[-1] * HOP + N_FFT))


def speech_of(clip: Clip) -> np.ndarray:
    samples = load_audio(clip.path, RATE).samples
    start, end = speech_bounds(samples)
    return samples[start:end]


# -- building a conversation -------------------------------------------------------------------


def pick_turns(clips: dict[str, list[Clip]], n_speakers: int, rng: np.random.Generator,
               length_s: float) -> tuple[list[Clip], list[np.ndarray]]:
    """The clips in speaking order and their speech, about `length_s` with the pauses: n speakers,
    never the same one twice in a row, no clip twice."""
    speakers = sorted(s for s, c in clips.items() if len(c) >= MIN_CLIPS)
    chosen = [speakers[i] for i in rng.choice(len(speakers), n_speakers, replace=False)]
    queues = {s: [clips[s][i] for i in rng.permutation(len(clips[s]))] for s in chosen}
    order, speech, last, seconds = [], [], None, 0.0
    while seconds < 1.2 * length_s:  # a margin: build_conversation keeps the turns that fit
        options = [s for s in chosen if s != last and queues[s]]
        if not options:
            break
        last = options[rng.integers(len(options))]
        order.append(queues[last].pop())
        speech.append(speech_of(order[-1]))
        seconds += len(speech[-1]) / RATE + np.mean(PAUSE_S)
    return order, speech


def level_speakers(order: list[Clip], speech: list[np.ndarray]) -> list[np.ndarray]:
    """Each speaker's clips times one gain that brings all of that speaker's speech to SPEECH_RMS."""
    gains = {}
    for speaker in {clip.speaker for clip in order}:
        theirs = np.concatenate([s for c, s in zip(order, speech) if c.speaker == speaker]).astype(np.float64)
        gains[speaker] = SPEECH_RMS / max(np.sqrt(np.mean(theirs**2)), 1e-9)
    return [(samples * gains[clip.speaker]).astype(np.float32) for clip, samples in zip(order, speech)]


def place_turns(speech: list[np.ndarray], rng: np.random.Generator) -> list[tuple[int, int]]:
    """Where each turn's speech goes, in samples: pauses, and now and then an overlap."""
    spans, end = [], int(EDGE_S * RATE)
    for i, samples in enumerate(speech):
        if i == 0:
            start = end
        elif rng.random() < OVERLAP_SHARE:
            longest = 0.5 * min(len(samples), spans[-1][1] - spans[-1][0]) / RATE
            start = end - int(min(rng.uniform(*OVERLAP_S), longest) * RATE)
        else:
            start = end + int(rng.uniform(*PAUSE_S) * RATE)
        spans.append((start, start + len(samples)))
        end = max(end, start + len(samples))
    return spans


def mix(speech: list[np.ndarray], spans: list[tuple[int, int]], rng: np.random.Generator,
        noise: float) -> np.ndarray:
    """The turns summed in place over white noise of RMS `noise`; peak at most 0.99."""
    signal = rng.normal(0.0, noise, spans[-1][1] + int(EDGE_S * RATE))
    for samples, (start, end) in zip(speech, spans):
        signal[start:end] += samples
    return (signal * min(1.0, 0.99 / np.abs(signal).max())).astype(np.float32)


def build_conversation(corpus: str, clips: dict[str, list[Clip]], n_speakers: int, index: int,
                       seed: int, snr_db: float = SNR_DB) -> tuple[np.ndarray, dict]:
    """One conversation's audio and its description (reference turns included)."""
    rng = np.random.default_rng([seed, n_speakers, index])
    length_s = rng.uniform(*LENGTH_S)
    order, speech = pick_turns(clips, n_speakers, rng, length_s)
    speech = level_speakers(order, speech)
    noise = SPEECH_RMS * 10 ** (-snr_db / 20)
    floor_db = 20 * np.log10(noise) + AUDIBLE_DB
    speech = [samples[slice(*speech_bounds(samples, floor_db))] for samples in speech]
    spans = place_turns(speech, rng)
    keep = max(2, sum(1 for _, end in spans if end <= (length_s - EDGE_S) * RATE))
    order, speech, spans = order[:keep], speech[:keep], spans[:keep]
    audio = mix(speech, spans, rng, noise)
    turns = [{"start": round(s / RATE, 4), "end": round(e / RATE, 4), "speaker": c.speaker, "label": c.label,
              "clip": c.path} for c, (s, e) in zip(order, spans)]
    return audio, {"format": FORMAT, "corpus": corpus, "n_speakers": n_speakers, "index": index, "seed": seed,
                   "sample_rate": RATE, "duration_s": round(len(audio) / RATE, 4), "snr_db": snr_db, "turns": turns}


def cached_conversation(cache: Path, corpus: str, clips: dict[str, list[Clip]], n_speakers: int, index: int,
                        seed: int, snr_db: float = SNR_DB) -> tuple[Path, dict]:
    """The WAV and its description, built unless the cache already holds them."""
    stem = cache / f"{corpus}-{n_speakers}spk-{index:02d}-seed{seed}-snr{snr_db:g}"
    wav, described = stem.with_suffix(".wav"), stem.with_suffix(".json")
    if wav.exists() and described.exists():
        info = json.loads(described.read_text())
        if info.get("format") == FORMAT:
            return wav, info
    audio, info = build_conversation(corpus, clips, n_speakers, index, seed, snr_db)
    cache.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(wav), audio, RATE, subtype="PCM_16")
    described.write_text(json.dumps(info, indent=1) + "\n")
    return wav, info


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


def score_clips(recognizer: EmotionRecognizer, paths: Sequence[str]) -> tuple[dict[str, str | None], float]:
    """Each clip alone: its label (None when not judged), and the wall time it all took."""
    began = time.perf_counter()
    labels = {path: recognizer.predict(path).label for path in paths}
    return labels, time.perf_counter() - began


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


TARGET = {2: 0.10, 3: 0.20, 4: 0.20}


def markdown(results: dict, command: str) -> str:
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    lines = ["# Conversations: who spoke when, and what each turn felt", "",
             f"{results['conversations']} conversations built from the corpora in ../shared (seed {results['seed']}; "
             "how: the docstring of `benchmarks/conversations.py`): 2, 3 or 4 speakers of one corpus, one clip "
             "a turn, 2-3 min, pauses 0.2-1.5 s, 15 % of speaker changes overlapping by 0.2-0.5 s, white noise "
             f"{results['snr_db']:g} dB below the speech. `told`: `speakers=\"auto\"` or the true count.", "",
             "Who spoke when. DER: missed + false alarm + confusion over scored reference speech, 0.25-s collar "
             "each side of every reference boundary, overlap scored (`ser_img.conversation.der`); mean over conversations, "
             "then pooled over all of them, with its parts; speakers found: mean count, and how often right; "
             "turns found: the timeline's merged turns per reference turn.", "",
             "| speakers | told | conv. | audio | DER mean (target) | DER pooled | missed | false alarm | confusion "
             "| speakers found (right) | turns found per turn | real-time factor |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for told, by_count in results["by_count"].items():
        for n, x in by_count.items():
            lines.append(f"| {n} | {told} | {x['conversations']} | {x['audio_s'] / 60:.1f} min | {pct(x['der_mean'])} "
                         f"(<= {100 * TARGET[int(n)]:.0f} %) | {pct(x['der_pooled'])} | {pct(x['missed'])} | "
                         f"{pct(x['false_alarm'])} | {pct(x['confusion'])} | {x['speakers_found_mean']:.2f} "
                         f"({100 * x['right_count_share']:.0f} %) | {x['hyp_turns_per_turn']:.2f} | "
                         f"{x['real_time_factor']:.3f} |")
    lines += ["", "What each turn felt (truth: the clip's label). In the conversation: the overlap-weighted mean "
              "probabilities of the timeline's segments over the reference turn, whoever they are given to; as "
              "their speaker's: only the segments of the speaker the DER maps onto the turn's (none: wrong). "
              "Alone: each clip scored by itself (`predict(clip)`; target: within 3 points). Cut turns: the "
              "reference turn cut from the conversation, noise and overlaps in, scored as an array (what "
              "perfect diarization would leave).", "",
              "| speakers | told | turns | in the conversation | as their speaker's | alone | difference | cut turns |",
              "|---|---|---|---|---|---|---|---|"]
    for told, by_count in results["by_count"].items():
        for n, x in by_count.items():
            difference = 100 * (x["turn_accuracy"] - x["alone_accuracy"])
            lines.append(f"| {n} | {told} | {x['turns']} | {pct(x['turn_accuracy'])} | "
                         f"{pct(x['attributed_accuracy'])} | {pct(x['alone_accuracy'])} | {difference:+.1f} | "
                         f"{pct(x['cut_accuracy'])} |")
    lines += ["", "By corpus (2, 3 and 4 speakers together):", "",
              "| corpus | told | conv. | DER mean | missed | false alarm | confusion | speakers found | "
              "turns found per turn | in the conversation | cut turns | alone |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for told, by_corpus in results["by_corpus"].items():
        for corpus, x in by_corpus.items():
            lines.append(f"| {corpus} | {told} | {x['conversations']} | {pct(x['der_mean'])} | {pct(x['missed'])} | "
                         f"{pct(x['false_alarm'])} | {pct(x['confusion'])} | {x['speakers_found_mean']:.2f} | "
                         f"{x['hyp_turns_per_turn']:.2f} | {pct(x['turn_accuracy'])} | {pct(x['cut_accuracy'])} | "
                         f"{pct(x['alone_accuracy'])} |")
    m = results["machine"]
    lines += ["", f"Real-time factor: wall time of `predict(conversation, speakers=...)` over the audio's length. "
              f"Clips alone: {results['clips']} clips in {results['clips_wall_s']:.0f} s. Machine: {m['nproc']} "
              f"cores (shared with other work), {m['cpu']}; Python {m['python']}; model {results['model']}; "
              f"code {results['code']}; {results['date']}.", "",
              "Every speaker here was in the shipped model's training data (it learnt from all the clips of "
              "these corpora), so the accuracies are not those on new voices: what this measures is turns "
              "against the same clips alone.", "", f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------


def code_version() -> str:
    """The commit, and whether the working tree differed from it."""
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if git("status", "--porcelain") else "")


def build_all(args) -> list[tuple[Path, dict]]:
    corpora = args.corpora.split(",")
    clips = {corpus: by_speaker(corpus_clips(corpus, args.shared)) for corpus in corpora}
    built = []
    for n in args.speakers:
        for index in range(args.conversations):
            corpus = corpora[index % len(corpora)]
            built.append(cached_conversation(args.cache, corpus, clips[corpus], n, index, args.seed, args.snr))
    return built


def score_all(recognizer: EmotionRecognizer, built: list[tuple[Path, dict]], alone: dict) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {"auto": [], "true count": []}
    for wav, info in built:
        truth = [t["label"] for t in info["turns"]]
        common = {"corpus": info["corpus"], "n_speakers": info["n_speakers"], "wav": str(wav),
                  "turn_s": [round(t["end"] - t["start"], 3) for t in info["turns"]],
                  "duration_s": info["duration_s"], "cut_correct": score_cut_turns(recognizer, wav, info),
                  "alone_correct": [alone[t["clip"]] == label for t, label in zip(info["turns"], truth)]}
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
    return parser.parse_args()


def command_line(args: argparse.Namespace) -> str:
    words = [f"--conversations {args.conversations}", f"--speakers {','.join(map(str, args.speakers))}",
             f"--seed {args.seed}", f"--corpora {args.corpora}", f"--snr {args.snr:g}"]
    return " ".join(["python benchmarks/conversations.py", *words] + ([f"--model {args.model}"] if args.model else []))


def main() -> None:
    args = arguments()
    model_dir = args.model or Path(__file__).resolve().parents[1] / "ser_img" / "default_model"
    recognizer = EmotionRecognizer.load(model_dir)
    built = build_all(args)
    alone, clips_wall = score_clips(recognizer, sorted({t["clip"] for _, info in built for t in info["turns"]}))
    rows = score_all(recognizer, built, alone)
    results = {
        "seed": args.seed, "snr_db": args.snr, "conversations": len(built), "clips": len(alone),
        "clips_wall_s": clips_wall, "model": describe_model(model_dir), "machine": machine(),
        "date": time.strftime("%Y-%m-%d"), "code": code_version(),
        "by_count": {told: groups(r, lambda row: row["n_speakers"]) for told, r in rows.items()},
        "by_corpus": {told: groups(r, lambda row: row["corpus"]) for told, r in rows.items()},
        "conversations_detail": rows,
    }
    name = "conversations" if args.snr == SNR_DB else f"conversations_snr{args.snr:g}"
    save_results(name, results, markdown(results, command_line(args)))


if __name__ == "__main__":
    main()
