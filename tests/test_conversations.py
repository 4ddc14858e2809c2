"""Conversations: who felt what, and when (`--speakers auto|N|channels`), on synthetic talk."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from cli import main
from ser_img.conversation.der import diarization_error
from ser_img.errors import UsageError
from ser_img.audio.signal import trim_silence
from ser_img.conversation.speakers import parse_speakers
from ser_img.corpus.synth import synth_clip

RATE = 16000
EMOTIONS = ["neutral", "calm"]  # styles that keep a synthetic voice recognisable
# Synthetic voices sound alike to a speaker encoder: a low voice (actor 1) and a high one with a
# shorter vocal tract (actor 2) are as far apart to CAM++ as two real people of one corpus
# (centroid cosine 0.55); played slower, the second would come too close (0.65).
VOICES = {1: (1, 1.0), 2: (2, 1.0)}


def voice_clip(speaker: int, emotion: str, statement: int, rng: np.random.Generator) -> np.ndarray:
    import soxr

    actor, speed = VOICES[speaker]
    clip = synth_clip(emotion, 2, statement, actor, rng, RATE)
    return clip if speed == 1.0 else soxr.resample(clip, RATE, int(RATE / speed)).astype(np.float32)


def conversation(actors: list[int], turns: int, seed: int = 0,
                 statements: tuple[int, ...] = (1, 2), styles: list[str] = EMOTIONS) -> tuple[list[np.ndarray], list[tuple]]:
    """Alternating turns of synthetic voices with pauses of 0.3-1.0 s: (clip per turn, reference
    turns (start, end, speaker) where each clip's speech is)."""
    rng = np.random.default_rng(seed)
    clips, reference, t = [], [], 0.0
    for k in range(turns):
        actor = actors[k % len(actors)]
        clip = voice_clip(actor, styles[k % len(styles)], statements[k % len(statements)], rng)
        pause = np.zeros(int(rng.uniform(0.3, 1.0) * RATE), np.float32)
        speech = trim_silence(clip, 512, 128, 40.0)
        offset = int(np.flatnonzero(np.abs(clip) > 0)[0]) if np.any(clip) else 0
        start = t + max(0, _find(clip, speech, offset)) / RATE
        reference.append((start, start + len(speech) / RATE, f"A{actor}"))
        clips += [clip, pause]
        t += (len(clip) + len(pause)) / RATE
    return clips, reference


def _find(clip: np.ndarray, part: np.ndarray, hint: int) -> int:
    """Where `part` (a trimmed copy) starts in `clip`."""
    for start in range(max(0, hint - 2048), len(clip) - len(part) + 1):
        if clip[start] == part[0] and np.array_equal(clip[start : start + len(part)], part):
            return start
    return hint


@pytest.fixture(scope="module")
def two_voices(tmp_path_factory) -> tuple[Path, list[tuple]]:
    clips, reference = conversation([1, 2], 8)
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    soundfile.write(str(path), np.concatenate(clips), RATE, subtype="PCM_16")
    return path, reference


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory) -> tuple[Path, list[tuple]]:
    """Two parties, one per channel, taking turns: (path, reference turns with left/right)."""
    clips, reference = conversation([1, 2], 6, seed=1)
    left = [c if k % 4 == 0 else np.zeros_like(c) for k, c in enumerate(clips)]  # even turns: clips 0, 4, 8
    right = [c if k % 4 == 2 else np.zeros_like(c) for k, c in enumerate(clips)]
    path = tmp_path_factory.mktemp("call") / "call.wav"
    soundfile.write(str(path), np.stack([np.concatenate(left), np.concatenate(right)], axis=1), RATE,
                    subtype="PCM_16")
    return path, [(s, e, "left" if k % 2 == 0 else "right") for k, (s, e, _) in enumerate(reference)]


@pytest.fixture(scope="module")
def talk_recognizer(stack_model):
    """The tiny model, finding speech by level: the voice detector (tested on its own in
    test_vad.py) hears too little of the synthetic voices' speech to test diarization on."""
    from ser_img.recognizer import EmotionRecognizer

    return EmotionRecognizer.load(stack_model, segmenter="energy")


def hypothesis(result) -> list[tuple]:
    return [(s.start, s.end, s.speaker) for s in result.timeline]


@pytest.mark.parametrize("speakers", [2, "auto"])
def test_two_voices_are_told_apart(talk_recognizer, two_voices, speakers):
    path, reference = two_voices
    result = talk_recognizer.predict(path, speakers=speakers)
    assert [s.speaker for s in result.speakers] == ["S1", "S2"]
    error = diarization_error(reference, hypothesis(result))
    assert error.rate < 0.15, error
    assert error.mapping == {"S1": "A1", "S2": "A2"}  # S1 is who spoke first
    assert sum(s.share for s in result.speakers) == pytest.approx(1.0)
    assert sum(s.turns for s in result.speakers) == 8
    for summary in result.speakers:
        assert summary.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_channels_give_exactly_the_two_parties(talk_recognizer, stereo_call):
    path, reference = stereo_call
    result = talk_recognizer.predict(path, speakers="channels")
    assert [s.speaker for s in result.speakers] == ["left", "right"]
    assert diarization_error(reference, hypothesis(result)).rate < 0.1
    assert [s.speaker for s in result.timeline] == [r[2] for r in reference]


def test_channels_on_a_mono_file_is_a_usage_error(recognizer, two_voices):
    with pytest.raises(UsageError, match="talk.wav: scoring speakers by channel needs a two-channel recording"):
        recognizer.predict(two_voices[0], speakers="channels")


def test_arrays_take_speakers_too(talk_recognizer, two_voices):
    samples, rate = soundfile.read(str(two_voices[0]), dtype="float32")
    from_array = talk_recognizer.predict(samples, sr=rate, speakers=2)
    from_file = talk_recognizer.predict(two_voices[0], speakers=2)
    assert hypothesis(from_array) == hypothesis(from_file)


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("AUTO", "auto"), ("3", 3), (2, 2),
                                             ("channels", "channels"), (None, None)])
def test_speaker_choices(value, expected):
    assert parse_speakers(value) == expected


@pytest.mark.parametrize("value", ["0", 0, "-1", "21", "two", "1.5"])
def test_bad_speaker_choices_are_refused(value):
    with pytest.raises(UsageError):
        parse_speakers(value)


def test_cli_json_names_the_speaker_of_every_segment(stack_model, two_voices):
    path, _ = two_voices
    result = CliRunner().invoke(main, ["predict", str(path), "--model", str(stack_model), "--speakers", "2",
                                       "--segmenter", "energy", "--json", "-q"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert {s["speaker"] for s in record["timeline"]} == {"S1", "S2"}
    assert [s["speaker"] for s in record["speakers"]] == ["S1", "S2"]
    first = record["speakers"][0]
    assert set(first) == {"speaker", "label", "probabilities", "speech_s", "share", "shares", "turns"}
    assert first["speech_s"] > 2.0


def test_cli_csv_has_speaker_rows_and_column(stack_model, two_voices):
    path, _ = two_voices
    result = CliRunner().invoke(main, ["predict", str(path), "--model", str(stack_model), "--speakers", "2",
                                       "--segmenter", "energy", "--csv", "-q"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["row"] for r in rows[:3]] == ["file", "speaker", "speaker"]
    assert [r["speaker"] for r in rows[1:3]] == ["S1", "S2"]
    segments = [r for r in rows if r["row"] == "segment"]
    assert segments and {r["speaker"] for r in segments} == {"S1", "S2"}


def test_cli_without_speakers_keeps_the_csv_columns(stack_model, two_voices):
    result = CliRunner().invoke(main, ["predict", str(two_voices[0]), "--model", str(stack_model), "--csv", "-q"])
    assert result.exit_code == 0, result.output
    assert "speaker" not in result.stdout.splitlines()[0].split(",")


def test_cli_refuses_channels_on_mono_and_zero_speakers(stack_model, two_voices):
    runner = CliRunner()
    mono = runner.invoke(main, ["predict", str(two_voices[0]), "--model", str(stack_model), "--speakers", "channels"])
    assert mono.exit_code == 2
    assert mono.stderr.strip().splitlines() == [
        f"error: {two_voices[0]}: scoring speakers by channel needs a two-channel recording (one party per channel); "
        "this one has 1 channel"]
    zero = runner.invoke(main, ["predict", str(two_voices[0]), "--speakers", "0"])
    assert zero.exit_code == 2
    assert "speakers must be between 1 and 20, not 0" in zero.stderr
    assert "Traceback" not in mono.output + zero.output


def test_a_recording_without_speech_is_the_outcome_no_speech_and_the_batch_goes_on(stack_model, two_voices,
                                                                                    tmp_path):
    quiet = tmp_path / "hum.wav"
    t = np.arange(8 * RATE) / RATE
    soundfile.write(str(quiet), (0.2 * np.sin(2 * np.pi * 100 * t)).astype(np.float32), RATE)
    result = CliRunner().invoke(main, ["predict", str(quiet), str(two_voices[0]), "--model", str(stack_model),
                                       "--speakers", "auto", "--json", "-q"])
    assert result.exit_code == 0, result.output  # nothing to judge is an outcome, not a failure
    records = json.loads(result.stdout)
    assert records[0]["label"] is None and records[0]["outcome"] == "no speech" and "error" not in records[0]
    assert records[1]["speakers"] and records[1]["label"] is not None


def test_parquet_keeps_speakers(stack_model, two_voices, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", str(two_voices[0]), "--model", str(stack_model), "--speakers", "2",
                                       "--segmenter", "energy", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    speakers = pq.read_table(out / "speakers").to_pylist()
    assert [row["speaker"] for row in speakers] == ["S1", "S2"]
    assert {row["speaker"] for row in pq.read_table(out / "segments").to_pylist()} == {"S1", "S2"}


def test_http_api_takes_speakers(server_url, two_voices):
    import httpx

    with open(two_voices[0], "rb") as handle:
        answer = httpx.post(f"{server_url}/predict?speakers=2", files={"file": ("talk.wav", handle)}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert [s["speaker"] for s in answer.json()["speakers"]] == ["S1", "S2"]
    with open(two_voices[0], "rb") as handle:
        refused = httpx.post(f"{server_url}/predict?speakers=0", files={"file": ("talk.wav", handle)}, timeout=60)
    assert refused.status_code == 400
    with open(two_voices[0], "rb") as handle:
        mono = httpx.post(f"{server_url}/predict?speakers=channels", files={"file": ("talk.wav", handle)}, timeout=60)
    assert mono.status_code == 422 and "two-channel" in mono.text


def test_a_speakers_part_without_its_files_part_is_dropped_on_resume(tmp_path):
    """A run killed between a batch's speakers part and its files part scores that batch again."""
    from pipelines.cluster import ParquetResults

    results = ParquetResults(tmp_path / "out")
    file_row = {"path": "a", "label": "sad", "duration_s": 9.0, "model_name": "m", "model_version": "1",
                "error": None, "outcome": "emotion", "speech_s": 5.0, "warnings": None}
    speaker_row = {"path": "a", "speaker": "S1", "label": "sad", "speech_s": 5.0, "share": 1.0, "turns": 2.0}
    assert results.add([file_row], [], [speaker_row]) == 1
    (tmp_path / "out" / "speakers" / "part-00001.parquet").write_bytes(b"orphan")
    ParquetResults(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out" / "speakers").iterdir()) == ["part-00000.parquet"]


@pytest.fixture(scope="module")
def voice_pieces() -> dict:
    """Speech pieces of a synthetic two-voice and a one-voice conversation: (audio, piece spans).
    The one voice says one statement in one style throughout: to CAM++ the synthesizer's two
    statements, or its neutral and calm styles, by one voice are as far apart (centroid cosine
    0.56-0.59) as its two voices (0.55), which real voices are not (docs/conversations.md)."""
    from ser_img.conversation.speakers import pieces
    from ser_img.speech.segmenter import EnergySegmenter, speech_spans

    out = {}
    for name, actors, statements, styles in (("two", [1, 2], (1, 2), EMOTIONS), ("one", [1], (1,), ["neutral"])):
        audio = np.concatenate(conversation(actors, 8, statements=statements, styles=styles)[0])
        out[name] = audio, pieces(speech_spans(EnergySegmenter(), [audio], RATE), RATE)
    return out


def _speakers_found(audio: np.ndarray, spans: np.ndarray, gain: float) -> np.ndarray:
    from ser_img.conversation.speakers import assign, embed_pieces

    scaled = np.clip(audio * gain, -1.0, 1.0)
    return assign(spans, embed_pieces(spans, (scaled[a:b] for a, b in spans), RATE), RATE, None)


def test_the_count_of_voices_does_not_follow_the_gain(voice_pieces):
    audio, spans = voice_pieces["two"]
    found = {gain: _speakers_found(audio, spans, gain) for gain in (0.1, 0.3, 1.0, 4.0)}
    assert {int(f.max()) + 1 for f in found.values()} == {2}
    assert all(np.array_equal(f, found[1.0]) for f in found.values())


@pytest.mark.parametrize("gain", [0.1, 1.0, 4.0])
def test_one_voice_alone_is_one_speaker(voice_pieces, gain):
    audio, spans = voice_pieces["one"]
    assert set(_speakers_found(audio, spans, gain)) == {0}
