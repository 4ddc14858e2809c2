"""One object from audio to an answer, shared by the CLI, the HTTP server and Python.

    from ser_img import EmotionRecognizer
    recognizer = EmotionRecognizer.load()           # the default model
    result = recognizer.predict("talk.wav")         # or recognizer.predict(samples, sr=44100)
    result.label, result.probabilities, result.timeline, result.shares
    for source, answer in recognizer.predict_files(paths): ...   # many files, decoded in parallel

The recognizer holds the model, the window, the hop and the number of decoding workers.
A file is read, then goes down the same path as a signal: a short one (up to twice the
window) is scored whole, exactly as clips were rendered for training; a longer one is
cut into windows (`window_s` long, every `hop_s`, read in blocks so memory stays flat),
silent windows are skipped, and each scored window is a segment of the timeline. The
overall probabilities weigh the segments by the time each stands for; `shares` is the
part of the scored time each emotion takes.

Probabilities stay arrays (in `EMOTIONS` order) until `Recognition.to_dict()` makes the
record that `predict --json`, the HTTP API and Python users all see.
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ser_img.version import __version__
from ser_img.audio.decode import InMemory, is_stream, load_audio, read_stream, to_rate
from ser_img.errors import AudioError, NoModelError, SerImgError, UsageError
from ser_img.labels import EMOTIONS
from ser_img.features.extractors import render_inputs, render_inputs_batch
from ser_img.audio.quality import MIN_SPEECH_S, measure, warnings_for
from ser_img.features.spectrogram import RenderSettings, encode_png, to_image
from ser_img.runtime.parallel import worker_pool
from ser_img.speech.segmenter import SpeechMask, get_segmenter
from ser_img.conversation.speakers import CHANNEL_NAMES, channels_error, diarize, parse_speakers
from ser_img.conversation.speakers import pieces as speech_pieces
from ser_img.conversation.speakers import turns as speaker_turns
from ser_img.audio.stream import BLOCK_S, Window, audio_duration, batched, channel_count, cut, read_blocks, sliding_windows

LONG_FACTOR = 2.0  # audio longer than this many windows is scored as a timeline
WINDOW_BATCH = 32  # windows (or short files) scored per call to the model
IN_FLIGHT = 4  # batches of a conversation's windows rendered at once over the workers
PARALLEL_FROM_S = 120.0  # conversations at least this long are rendered on every core
FILE_BATCH = 256  # short files handed to the decoding workers at a time, so memory stays flat on big folders

DEFAULT = object()  # an argument left out: the recognizer's own setting applies

# progress(iterable, total, label) -> the same items (pipelines.Progress)
Progress = Callable[[Iterable, int, str], Iterable]


def _no_progress(items, total, label):
    return items


@dataclass
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    probabilities: np.ndarray  # the eight classes, in EMOTIONS order
    speaker: str | None = None  # who speaks, when speakers were asked for ("S1", ..., or "left"/"right")

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def scores(self) -> dict[str, float]:
        """The probabilities by class name."""
        return named(self.probabilities)

    def top(self, k: int = 1) -> list[tuple[str, float]]:
        return _top(self.probabilities, k)

    def to_dict(self) -> dict:
        record = {"start": self.start, "end": self.end, "label": self.label,
                  "probabilities": named(self.probabilities)}
        if self.speaker is not None:
            record["speaker"] = self.speaker
        return record


@dataclass
class SpeakerSummary:
    """One speaker of a conversation: overall emotion over their scored speech, and how much they spoke."""

    speaker: str  # "S1", "S2", ... in order of first speech, or "left"/"right"
    probabilities: np.ndarray  # weighted by the time each of their segments stands for
    speech_s: float  # seconds of their turns that were scored
    share: float  # their part of all speakers' scored time
    shares: np.ndarray  # part of their time per emotion
    turns: int

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    def to_dict(self) -> dict:
        return {"speaker": self.speaker, "label": self.label, "probabilities": named(self.probabilities),
                "speech_s": round(self.speech_s, 3), "share": round(self.share, 4), "shares": named(self.shares),
                "turns": self.turns}


@dataclass
class Recognition:
    """What the recognizer says about one recording; `to_dict()` is its one record shape."""

    source: str | None  # the file (its upload name on the server); None for an array
    probabilities: np.ndarray  # the eight classes, in EMOTIONS order (NaN when there is no judgement)
    duration_s: float
    timeline: list[Segment]  # one segment for a short clip; none when there is no judgement
    shares: np.ndarray  # part of the scored time per emotion; sums to 1
    model: dict[str, str]  # name and version
    silent_s: float = 0.0  # time skipped as silence (long audio only)
    # "emotion", or why there is no judgement: "too short" (less speech than MIN_SPEECH_S)
    # or "no speech" (nothing above the speech level)
    outcome: str = "emotion"
    # seconds of speech found: by the voice detector for long audio and conversations, by
    # energy for a clip scored whole
    speech_s: float | None = None
    warnings: list[str] = field(default_factory=list)  # input outside what the model was measured on
    image: np.ndarray | None = field(default=None, repr=False)  # what the model looked at, on request
    image_window: tuple[float, float] | None = None  # the seconds of audio that image shows
    explanation: np.ndarray | None = field(default=None, repr=False)  # (grid, grid) importance, on request
    speakers: list[SpeakerSummary] | None = None  # per speaker, when speakers were asked for

    @property
    def label(self) -> str | None:
        """The emotion; None when there is no judgement (see `outcome`)."""
        return EMOTIONS[int(np.argmax(self.probabilities))] if self.judged else None

    @property
    def judged(self) -> bool:
        return self.outcome == "emotion"

    @property
    def is_timeline(self) -> bool:
        return len(self.timeline) > 1 or self.speakers is not None

    @property
    def scores(self) -> dict[str, float] | None:
        """The probabilities by class name: {"neutral": 0.01, ..., "surprised": 0.02}; None unjudged."""
        return named(self.probabilities) if self.judged else None

    @property
    def time_shares(self) -> dict[str, float] | None:
        """`shares` by class name: the part of the scored time each emotion takes; None unjudged."""
        return named(self.shares) if self.judged else None

    def top(self, k: int = 1) -> list[tuple[str, float]]:
        """The `k` likeliest classes and their probabilities, likeliest first (none unjudged)."""
        return _top(self.probabilities, k) if self.judged else []

    def to_dict(self) -> dict:
        record = {"source": self.source, "label": self.label, "outcome": self.outcome,
                  "probabilities": self.scores, "duration_s": self.duration_s, "speech_s": self.speech_s,
                  "timeline": [s.to_dict() for s in self.timeline], "shares": self.time_shares,
                  "silent_s": self.silent_s, "warnings": list(self.warnings), "model": self.model,
                  "speakers": None if self.speakers is None else [s.to_dict() for s in self.speakers]}
        if self.image is not None:
            record["spectrogram_png"] = _base64_png(self.image)
            record["image_window"] = list(self.image_window)
        if self.explanation is not None:
            from ser_img.report.explain import NOISE_FLOOR, SCALE_MAX, overlay, stands_out, summary

            record["explanation"] = {
                "method": "occlusion", "label": self.label, "window": list(self.image_window),
                "grid": [[round(float(x), 4) for x in row] for row in self.explanation],
                "scale": {"unit": "drop in the label's probability", "max": SCALE_MAX, "noise_floor": NOISE_FLOOR},
                "stands_out": stands_out(self.explanation), "summary": summary(self.explanation, self.label),
                "png": _base64_png(overlay(self.image, self.explanation))}
        return record


class FileAnswer(NamedTuple):
    """What `predict_files` gives for one file: its path and either the recognition or the
    error that stopped it (`ok` says which; `result` and `error` are None when not so)."""

    path: Path
    answer: Recognition | SerImgError

    @property
    def ok(self) -> bool:
        return isinstance(self.answer, Recognition)

    @property
    def result(self) -> Recognition | None:
        return self.answer if self.ok else None

    @property
    def error(self) -> SerImgError | None:
        return None if self.ok else self.answer


def unjudged(source: str | None, duration_s: float, speech_s: float, warnings: list[str],
             model: dict[str, str]) -> Recognition:
    """The answer for audio with too little speech to judge: an outcome that is not an emotion."""
    nothing = np.full(len(EMOTIONS), np.nan)
    return Recognition(source=source, probabilities=nothing, duration_s=round(float(duration_s), 3), timeline=[],
                       shares=nothing, model=model, outcome="no speech" if speech_s == 0 else "too short",
                       speech_s=speech_s, warnings=warnings)


def failure_record(source: str, error: str) -> dict:
    """The record of a file that could not be recognized, in `Recognition.to_dict()`'s shape."""
    return {"source": source, "label": None, "error": error}


class EmotionRecognizer:
    """A loaded model and how to apply it: window, hop, decoding workers. Thread-safe.

    Concurrent calls are batched: clips waiting while the model is busy are scored
    together in its next pass.
    """

    def __init__(self, model, model_dir: Path | None = None, window_s: float | None = None,
                 hop_s: float | None = None, workers: int | None = None, segmenter: str = "silero",
                 max_duration_s: float | None = None, min_speech_s: float = MIN_SPEECH_S,
                 speakers: str | int | None = None):
        self.model = model
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.settings: RenderSettings = model.render_settings
        self.sample_rate = self.settings.sample_rate
        self.window_s = float(window_s or self.settings.window_s)
        self.hop_s = float(hop_s or self.window_s / 2)
        if self.window_s <= 0 or self.hop_s <= 0:
            raise UsageError("window and hop must be positive")
        self.workers = workers
        # What finds the speech in long audio and conversations (ser_img.speech.segmenter).
        self.segmenter = get_segmenter(segmenter)
        # Who speaks, for every prediction that does not say: None (one voice), "auto", a
        # number of speakers or "channels".
        self.speakers = parse_speakers(speakers)
        # Longer audio (or more channels x rate x time than as long 48-kHz stereo) is refused
        # before it is decoded: a server's guard against headers that promise hours.
        self.max_duration_s = max_duration_s
        # Less speech than this gets no emotion, but the outcome "too short" (docs/trust.md).
        self.min_speech_s = min_speech_s
        self._score = _Batcher(model.predict_prepared)

    @classmethod
    def load(cls, path: str | Path | None = None, **options) -> EmotionRecognizer:
        """The model at `path`, or the default one (newest under ./artifacts, else packaged)."""
        from ser_img.store.load import load_model

        model_dir = resolve_model_dir(path)
        return cls(load_model(model_dir), model_dir, **options)

    @property
    def model_info(self) -> dict[str, str]:
        return model_info(self.model.info)

    @property
    def trained_on_synthetic_audio(self) -> bool:
        """True for a model whose card says it learnt from synthetic audio (the demo's)."""
        card = self.model_dir / "MODEL_CARD.md" if self.model_dir is not None else None
        try:
            return card is not None and "SYNTHETIC audio" in card.read_text(encoding="utf-8")
        except OSError:
            return False

    def __repr__(self) -> str:
        where = f", model_dir='{self.model_dir}'" if self.model_dir is not None else ""
        return (f"EmotionRecognizer(model='{self.model_info['name']}', version='{self.model_info['version']}', "
                f"window_s={self.window_s:g}, hop_s={self.hop_s:g}{where})")

    def is_long(self, duration_s: float | None) -> bool:
        return duration_s is not None and duration_s > LONG_FACTOR * self.window_s

    # -- one recording -------------------------------------------------------------------

    def predict(self, source: str | Path | np.ndarray, sr: int | None = None, image: bool = False,
                explain: bool = False, advance: Callable[[float], None] | None = None,
                speakers: str | int | None = DEFAULT) -> Recognition:
        """Recognize a file (any format libsndfile reads) or a mono/(n, channels) array at `sr` Hz.

        `image` keeps the spectrogram image the model looked at; `explain` adds which of its
        regions drove the decision. `advance(seconds)` is told as long audio is scored.
        `speakers` ("auto", a number, or "channels" for a two-party stereo recording) scores
        each speaker's turns: every segment names its speaker, and `speakers` sums them up
        (by default, the recognizer's `speakers`).
        """
        speakers = self.speakers if speakers is DEFAULT else parse_speakers(speakers)
        if isinstance(source, np.ndarray):
            return self._predict_signal(source, sr, image, explain, advance, speakers)
        if sr is not None:
            raise UsageError("sr is for arrays; a file's rate is read from the file")
        path = _readable(source)
        duration = audio_duration(path)
        if speakers is not None:
            def open_blocks(channel):
                return read_blocks(path, self.sample_rate, max_duration_s=self.max_duration_s, channel=channel)
            if duration is None:  # a header that does not say: count while reading
                duration = sum(len(b) for b in open_blocks(None)) / self.sample_rate
            return self._conversation(open_blocks, channel_count(path) or 1, duration, str(path), speakers,
                                      image, explain, advance)
        if self.is_long(duration):
            blocks = read_blocks(path, self.sample_rate, max_duration_s=self.max_duration_s)
            return self._recognize(blocks, duration, str(path), image, explain, advance)
        audio = load_audio(path, self.sample_rate, self.max_duration_s)
        return self._recognize([audio.samples], audio.duration_s, str(path), image, explain, advance,
                               source_rate=audio.source_rate)

    def _predict_signal(self, samples: np.ndarray, sr: int | None, image: bool, explain: bool,
                        advance, speakers: str | int | None = None) -> Recognition:
        if sr is None:
            raise UsageError("an audio array needs its sample rate: predict(samples, sr=RATE)")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim not in (1, 2) or samples.size == 0:
            raise AudioError("audio array: expected a non-empty mono array or (samples, channels)")
        parts = samples[:, None] if samples.ndim == 1 else samples
        parts = [to_rate(np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0), int(sr), self.sample_rate) for c in parts.T]
        mono = parts[0] if len(parts) == 1 else np.mean(parts, axis=0).astype(np.float32)
        duration = mono.size / self.sample_rate
        block = int(BLOCK_S * self.sample_rate)

        def open_blocks(channel=None):
            signal = mono if channel is None else parts[channel]
            return [signal[i : i + block] for i in range(0, signal.size, block)]
        if speakers is not None:
            return self._conversation(open_blocks, len(parts), duration, None, speakers, image, explain, advance)
        blocks = open_blocks() if self.is_long(duration) else [mono]
        return self._recognize(blocks, duration, None, image, explain, advance, source_rate=int(sr))

    def _recognize(self, blocks: Iterable[np.ndarray], duration_s: float, source: str | None, image: bool,
                   explain: bool, advance, source_rate: int | None = None) -> Recognition:
        """The one path for files and arrays: whole for a short clip, windowed for long audio."""
        if not self.is_long(duration_s):
            (samples,) = blocks
            speech_s, warnings = self.inspect(samples, source_rate)
            if speech_s < self.min_speech_s:
                return unjudged(source, duration_s, speech_s, warnings, self.model_info)
            prepared = self._prepare([samples])
            return self._clip_result(prepared[0], self._score(prepared)[0], duration_s, source, image, explain,
                                     speech_s, warnings)
        return self._timeline(blocks, duration_s, source, image, explain, advance)

    def inspect(self, samples: np.ndarray, source_rate: int | None = None) -> tuple[float, list[str]]:
        """Seconds of speech in a clip at the model's rate, and warnings about it (docs/trust.md)."""
        quality = measure(samples, self.sample_rate)
        return quality.speech_s, warnings_for(quality, source_rate)

    def _clip_result(self, prepared: tuple, row: np.ndarray, duration_s: float, source: str | None,
                     image: bool, explain: bool, speech_s: float | None = None,
                     warnings: list[str] | None = None) -> Recognition:
        end = round(float(duration_s), 3)
        result = Recognition(source=source, probabilities=row, duration_s=end, timeline=[Segment(0.0, end, row)],
                             shares=np.eye(len(EMOTIONS))[int(row.argmax())], model=self.model_info,
                             speech_s=speech_s, warnings=list(warnings or []))
        return self._with_image(result, prepared, (0.0, end), image, explain)

    def _with_image(self, result: Recognition, prepared: tuple, window: tuple[float, float], image: bool,
                    explain: bool) -> Recognition:
        if image or explain:
            result.image, result.image_window = prepared[0], window
        if explain:
            result.explanation = self.explain(*prepared, int(result.probabilities.argmax()))
        return result

    def explain(self, image: np.ndarray, descriptors: np.ndarray, target: int) -> np.ndarray:
        """(grid, grid) drop in class `target`'s probability when each cell of `image` is hidden.

        Forward passes through the inference runtime only; the descriptors are held fixed, so
        the map says what the image contributed.
        """
        from ser_img.report.explain import occlusion

        silence = to_image(np.zeros((1, 1), np.float32), self.settings)[0, 0]
        return occlusion(lambda images: self.score_images(images, descriptors), image, target, silence)

    def score_images(self, images: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """Probabilities of images that share one clip's descriptors (explanations and their tests)."""
        return self._score([(im, descriptors) for im in images])

    def _prepare(self, signals: list[np.ndarray]) -> list[tuple]:
        """Rendered in the caller's thread, so concurrent requests render in parallel."""
        return render_inputs_batch(signals, self.settings)

    def _timeline(self, blocks: Iterable[np.ndarray], duration_s: float, source: str | None, image: bool,
                  explain: bool, advance) -> Recognition:
        rate = self.sample_rate
        window, hop = int(round(self.window_s * rate)), int(round(self.hop_s * rate))
        mask = self.segmenter.new_mask(rate)
        tally = _Tally(rate, image or explain)
        total = 0
        for batch in batched(sliding_windows(self.segmenter.follow(blocks, mask), window, hop, min_tail=hop),
                              WINDOW_BATCH):
            if advance is not None:
                advance(0.0)  # a caller that wants the job stopped (a server's timeout) can stop it here
            # A window with too little speech to judge is passed over like silence.
            voiced = [w for w in batch if mask.seconds(w.start, w.end) >= self.min_speech_s]
            if voiced:
                tally.add(voiced, self._score_windows(voiced), [_span(w, hop) / rate for w in voiced])
            if advance is not None:
                advance((batch[-1].end - total) / rate)
            total = batch[-1].end
        return self._timeline_result(tally, mask.seconds(), total / rate, duration_s, source, image, explain)

    def _score_windows(self, windows: list) -> list[tuple]:
        """(probabilities, model inputs) of each window (anything with `.samples`)."""
        prepared = self._prepare([w.samples for w in windows])
        return list(zip(self._score(prepared), prepared))

    def _timeline_result(self, tally: _Tally, speech_s: float, audio_s: float, duration_s: float,
                         source: str | None, image: bool, explain: bool,
                         speakers: list[str] | None = None) -> Recognition:
        if not tally.rows and speech_s == 0:
            raise AudioError(f"{source or 'audio array'}: no speech (the {self.segmenter.name} segmenter found "
                             f"none in {_clock(duration_s)} of audio)")
        if not tally.rows:  # some speech, but no window with enough of it to judge
            return unjudged(source, duration_s, round(speech_s, 3), [], self.model_info)
        probs, weight = np.array(tally.rows), np.array(tally.weights)
        overall, shares = _weighted(probs, weight)
        names = [None] * len(probs) if speakers is None else [speakers[k] for k in tally.speakers]
        result = Recognition(
            source=source, probabilities=overall, duration_s=round(float(duration_s), 3),
            timeline=[Segment(round(s, 3), round(e, 3), r, n) for s, e, r, n in
                      zip(tally.starts, tally.ends, tally.rows, names)],
            shares=shares, model=self.model_info, silent_s=round(max(0.0, audio_s - weight.sum()), 3),
            speech_s=round(speech_s, 3), warnings=tally.common_warnings())
        if speakers is not None:
            result.speakers = _speaker_summaries(tally, speakers)
        if tally.shown:
            # The image: the window most typical of the overall label (else of any label).
            _, inputs, where = tally.shown.get(int(overall.argmax())) or max(tally.shown.values(), key=lambda x: x[0])
            self._with_image(result, inputs, where, image, explain)
        return result

    # -- conversations -------------------------------------------------------------------

    def _conversation(self, open_blocks: Callable, channels: int, duration_s: float, source: str | None,
                      speakers: str | int, image: bool, explain: bool, advance) -> Recognition:
        """Who felt what, and when: speech found, split by channel or by voice, joined into
        turns, each turn scored whole (or in windows when longer than LONG_FACTOR windows).
        The audio is read three times (speech, voices, emotions), never held whole."""
        if speakers == "channels" and channels != 2:
            raise channels_error(source or "audio array", channels)
        workers = 1 if duration_s < PARALLEL_FROM_S else self.workers
        with worker_pool(workers) as mapper:
            if speakers == "channels":
                names = list(CHANNEL_NAMES)
                masks = [self._find_speech(open_blocks(k), _part(advance, 0.3 / 2)) for k in range(2)]
                spans = [mask.spans() for mask in masks]
                turns = sorted((t for k, found in enumerate(spans) for t in
                                speaker_turns(found, np.full(len(found), k), self.sample_rate)),
                               key=lambda t: (t.start, t.speaker))
            else:
                names, masks, turns = self._voices(open_blocks, speakers, mapper, advance)
            tally = _Tally(self.sample_rate, image or explain)
            stage = _part(advance, 0.5 / (2 if speakers == "channels" else 1))
            for channel in (range(2) if speakers == "channels" else [None]):
                windows = [(w, t.speaker) for t in turns if channel is None or t.speaker == channel
                           for w in self._turn_windows(t, masks[t.speaker])]
                clips = cut(_stopping(open_blocks(channel), stage, self.sample_rate), [w[:2] for w, _ in windows])
                for group in batched(zip(windows, clips), WINDOW_BATCH * IN_FLIGHT):
                    found = [_Clip(start, end, samples, speaker, weight)
                             for ((start, end, weight), speaker), samples in group]
                    batches = [found[i : i + WINDOW_BATCH] for i in range(0, len(found), WINDOW_BATCH)]
                    rendered = mapper(_render_batch, [([c.samples for c in b], self.settings) for b in batches])
                    for part, prepared in zip(batches, rendered):
                        tally.add(part, list(zip(self._score(prepared), prepared)), [c.weight for c in part],
                                  [c.speaker for c in part])
        tally.sort()
        speech = sum(m.seconds() for m in (masks if speakers == "channels" else masks[:1]))
        return self._timeline_result(tally, speech, duration_s, duration_s, source, image, explain, names)

    def _voices(self, open_blocks: Callable, speakers: str | int, mapper, advance) -> tuple:
        """Speaker names, speech masks (one per speaker) and turns of a mixed recording."""
        rate = self.sample_rate
        mask = self._find_speech(open_blocks(None), _part(advance, 0.2))
        spans = speech_pieces(mask.spans(), rate)
        clips = cut(_stopping(open_blocks(None), _part(advance, 0.3), rate), spans)
        found = diarize(spans, clips, rate, None if speakers == "auto" else int(speakers), mapper)
        names = [f"S{k + 1}" for k in range(int(found.max()) + 1 if len(found) else 0)]
        return names, [mask] * len(names), speaker_turns(spans, found, rate)

    def _find_speech(self, blocks: Iterable[np.ndarray], advance) -> SpeechMask:
        mask = self.segmenter.new_mask(self.sample_rate)
        for _ in self.segmenter.follow(_stopping(blocks, advance, self.sample_rate), mask):
            pass
        return mask

    def _turn_windows(self, turn, mask: SpeechMask) -> list[tuple[int, int, float]]:
        """(start, end, seconds it stands for) of the windows a turn is scored in: the whole
        turn when it is up to LONG_FACTOR windows long, else windows every hop; windows with
        too little speech to judge are left out."""
        rate = self.sample_rate
        window, hop = int(round(self.window_s * rate)), int(round(self.hop_s * rate))
        if turn.end - turn.start <= LONG_FACTOR * window:
            spans = [(turn.start, turn.end, (turn.end - turn.start) / rate)]
        else:
            starts = range(turn.start, turn.end - window + 1, hop)
            spans = [(s, s + window, hop / rate) for s in starts]
            if turn.end - (starts[-1] + hop) >= hop:
                spans.append((starts[-1] + hop, turn.end, hop / rate))
        return [s for s in spans if mask.seconds(s[0], s[1]) >= self.min_speech_s]

    # -- many files ------------------------------------------------------------------------

    def predict_files(self, paths: list[Path], image: bool = False, explain: bool = False,
                      progress: Progress = _no_progress, speakers: str | int | None = DEFAULT) -> list[FileAnswer]:
        """A FileAnswer per file, in the order given: (path, answer), where the answer is the
        Recognition or, for a file that could not be recognized, the SerImgError that says why
        (`.ok`, `.result` and `.error` tell them apart). Failures never raise.

        Short files are decoded and rendered on `workers` processes and scored in batches;
        long ones (and every file when speakers are asked for) are read block by block, their
        progress counted in seconds of audio.
        """
        speakers = self.speakers if speakers is DEFAULT else parse_speakers(speakers)
        readable = {path: _readable_or_error(path) for path in paths}  # pipes are read once, here
        answers: dict[Path, Recognition | SerImgError] = {
            path: read for path, read in readable.items() if isinstance(read, SerImgError)}
        durations = {path: audio_duration(readable[path]) for path in paths if path not in answers}
        short = [p for p in durations if not self.is_long(durations[p]) and speakers is None]
        if short:
            label = f"scoring {len(short)} clip{'s' * (len(short) != 1)}"
            origin = {readable[p]: p for p in short}  # paths hash by value, in-memory input by identity
            for source, answer in progress(self._short_files(list(origin), image, explain), len(short), label):
                answers[origin[source]] = answer
        for path in paths:
            if path not in answers:
                answers[path] = self._long_file(readable[path], durations[path], image, explain, progress, speakers)
        return [FileAnswer(path, answers[path]) for path in paths]

    def _short_files(self, paths: list[Path], image: bool, explain: bool) -> Iterator[tuple]:
        """(path, answer) as each is ready: decoded on workers, scored WINDOW_BATCH at a time."""
        for start in range(0, len(paths), FILE_BATCH):
            batch = paths[start : start + FILE_BATCH]
            jobs = [(path, self.settings, self.max_duration_s, self.min_speech_s) for path in batch]
            loaded = zip(batch, _run_parallel(_load_file, jobs, self.workers if len(batch) > 8 else 1))
            while chunk := list(itertools.islice(loaded, WINDOW_BATCH)):
                rows = iter(self._score([done.inputs for _, done in chunk if done.inputs is not None]))
                for path, done in chunk:
                    if done.error is not None:
                        yield path, done.error
                    elif self.is_long(done.duration):  # its header did not say how long it is: a timeline after all
                        if done.inputs is not None:
                            next(rows)
                        yield path, self._long_file(path, done.duration, image, explain, _no_progress)
                    elif done.inputs is None:  # too little speech to judge
                        yield path, unjudged(str(path), done.duration, done.speech_s, done.warnings, self.model_info)
                    else:
                        yield path, self._clip_result(done.inputs, next(rows), done.duration, str(path), image,
                                                      explain, done.speech_s, done.warnings)

    def _long_file(self, path: Path, duration_s: float | None, image: bool, explain: bool,
                   progress: Progress, speakers: str | int | None = None) -> Recognition | SerImgError:
        answer: list = []

        def work(advance):
            try:
                answer.append(self.predict(path, image=image, explain=explain, advance=advance, speakers=speakers))
            except SerImgError as exc:
                answer.append(exc)

        label = f"{path.name} ({_clock(duration_s or 0)} of audio)"
        for _ in progress(_seconds_done(work), int(np.ceil(duration_s or 0)), label):
            pass
        return answer[0]


def _readable(source) -> Path | InMemory:
    """A path as it is, or once-only input (a FIFO, `<(...)`, `-`) read whole into memory."""
    if isinstance(source, InMemory):
        return source
    path = Path(source)
    return read_stream(path) if is_stream(path) else path


def _readable_or_error(path: Path) -> Path | InMemory | SerImgError:
    try:
        return _readable(path)
    except SerImgError as exc:
        return exc


@dataclass
class _Loaded:
    """One short file as a worker process leaves it: model inputs (None when there is too little
    speech to judge, or on error), duration, speech found, warnings, or the error."""

    inputs: tuple | None = None
    duration: float = 0.0
    speech_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    error: SerImgError | None = None


def _load_file(job: tuple) -> _Loaded:
    """Decode, inspect and render one short file in a worker process."""
    path, settings, max_duration_s, min_speech_s = job
    try:
        audio = load_audio(path, settings.sample_rate, max_duration_s)
    except SerImgError as exc:
        return _Loaded(error=exc)
    except OSError as exc:
        return _Loaded(error=AudioError(f"{path}: {exc.strerror or exc}"))
    quality = measure(audio.samples, settings.sample_rate)
    loaded = _Loaded(duration=audio.duration_s, speech_s=quality.speech_s,
                     warnings=warnings_for(quality, audio.source_rate))
    if quality.speech_s >= min_speech_s:
        loaded.inputs = render_inputs(audio.samples, settings)
    return loaded


def _render_batch(job: tuple) -> list[tuple]:
    """Model inputs of a batch of signals, in a worker process."""
    signals, settings = job
    return render_inputs_batch(signals, settings)


def _run_parallel(function, jobs, workers):
    from ser_img.runtime.parallel import run_parallel

    return run_parallel(function, jobs, workers)


def _seconds_done(work: Callable[[Callable[[float], None]], None]) -> Iterator[None]:
    """Runs `work(advance)` on a thread; yields one item per whole second of audio it reports."""
    import queue

    events: queue.Queue = queue.Queue()
    done = object()
    state = {"seconds": 0.0, "given": 0, "error": None}

    def advance(seconds: float) -> None:
        state["seconds"] += seconds
        while state["given"] < int(state["seconds"]):
            state["given"] += 1
            events.put(None)

    def run() -> None:
        try:
            work(advance)
        except BaseException as exc:  # handed to the caller's thread below
            state["error"] = exc
        finally:
            events.put(done)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while (event := events.get()) is not done:
        yield event
    thread.join()
    if state["error"] is not None:
        raise state["error"]


class _Job:
    def __init__(self, clips: list[tuple]):
        self.clips = clips
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class _Batcher:
    """Lets one call into the model at a time, scoring everything that waited as one batch.

    Threads that arrive while the model is busy queue their prepared clips; the next thread to
    get the model takes the whole queue, so concurrent requests share a batch (one pass
    per fold CNN) instead of queueing one by one.
    """

    def __init__(self, score):
        self._score = score
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()
        self._model_lock = threading.Lock()

    def __call__(self, clips: list[tuple]) -> np.ndarray:
        job = _Job(clips)
        with self._queue_lock:
            self._queue.append(job)
        with self._model_lock:
            if job.result is None and job.error is None:
                with self._queue_lock:
                    jobs, self._queue = self._queue, []
                try:
                    scored = self._score([c for j in jobs for c in j.clips])
                    for j, end in zip(jobs, np.cumsum([len(j.clips) for j in jobs])):
                        j.result = scored[end - len(j.clips) : end]
                except BaseException as exc:
                    for j in jobs:
                        j.error = exc
        if job.error is not None:
            raise job.error
        return job.result


def model_info(info: dict) -> dict[str, str]:
    """The name and version that every answer carries, from a model's `info` (model.json)."""
    return {"name": str(info.get("name", "model")), "version": str(info.get("package_version", __version__))}


def resolve_model_dir(path: str | Path | None) -> Path:
    """`path`, or the default model: the newest under ./artifacts, else the packaged one."""
    from ser_img.store.load import find_default_model

    if path is not None:
        return Path(path)
    found = find_default_model()
    if found is None:
        raise NoModelError("no model found (none under ./artifacts, and no packaged model installed)")
    return found


def describe_model_dir(model_dir: Path) -> str:
    """How people should read a model's place: the shipped one by name, others by path."""
    from ser_img.store.load import PACKAGED_MODEL

    try:
        if Path(model_dir).resolve() == PACKAGED_MODEL.resolve():
            import json

            name = json.loads((PACKAGED_MODEL / "model.json").read_text(encoding="utf-8")).get("name", "model")
            return f"{name} (shipped)"
    except (OSError, ValueError):
        pass
    return str(model_dir)


def _top(probabilities: np.ndarray, k: int) -> list[tuple[str, float]]:
    order = np.argsort(-np.asarray(probabilities), kind="stable")[: max(0, k)]
    return [(EMOTIONS[i], float(probabilities[i])) for i in order]


def named(values: np.ndarray) -> dict[str, float]:
    return {name: float(p) for name, p in zip(EMOTIONS, values)}


def _base64_png(image: np.ndarray) -> str:
    return base64.b64encode(encode_png(image)).decode("ascii")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def _span(window: Window, hop: int) -> int:
    """Samples a window stands for: its hop (its own length where it is shorter)."""
    return min(hop, window.end - window.start)


@dataclass
class _Clip:
    """A window of a conversation's turn, ready to score."""

    start: int
    end: int
    samples: np.ndarray
    speaker: int
    weight: float  # seconds of the timeline it stands for


class _Tally:
    """Scored windows of a timeline as they come: when, what, how much time each stands for,
    whose, the input warnings each had, and per class its most typical window's inputs."""

    def __init__(self, rate: int, keep_images: bool):
        self.rate, self.keep_images = rate, keep_images
        self.starts, self.ends, self.rows, self.weights, self.speakers = [], [], [], [], []
        self.warned: dict[str, list[str]] = {}  # kind of warning -> its text for each window that had it
        self.shown: dict[int, tuple] = {}  # per class: (probability, prepared, (start, end) s)

    def add(self, windows: list, scored: list[tuple], weights: list[float], speakers: list | None = None) -> None:
        """Windows (with .start, .end in samples and .samples), their (probabilities, inputs),
        the seconds each stands for, and whose each is."""
        rate = self.rate
        for i, (w, (row, inputs)) in enumerate(zip(windows, scored)):
            for text in warnings_for(measure(w.samples, rate)):
                self.warned.setdefault(text.split(" (")[0], []).append(text)
            self.starts.append(w.start / rate)
            self.ends.append(w.end / rate)
            self.rows.append(row)
            self.weights.append(weights[i])
            self.speakers.append(None if speakers is None else speakers[i])
            best = int(row.argmax())
            if self.keep_images and row[best] > self.shown.get(best, (-1.0,))[0]:
                self.shown[best] = (row[best], inputs, (round(w.start / rate, 3), round(w.end / rate, 3)))

    def sort(self) -> None:
        """In order of time (a two-channel conversation is scored one channel after the other)."""
        order = sorted(range(len(self.starts)), key=lambda i: (self.starts[i], self.speakers[i]))
        for name in ("starts", "ends", "rows", "weights", "speakers"):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in order])

    def common_warnings(self) -> list[str]:
        """A warning most of the scored windows share is the recording's."""
        return [texts[0] for texts in self.warned.values() if len(texts) * 2 >= len(self.rows)]


def _weighted(probs: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overall probabilities and the part of the time each emotion takes, over weighted segments."""
    overall = (probs * weight[:, None]).sum(axis=0) / weight.sum()
    shares = np.bincount(probs.argmax(axis=1), weights=weight, minlength=len(EMOTIONS)) / weight.sum()
    return overall, shares


def _speaker_summaries(tally: _Tally, names: list[str]) -> list[SpeakerSummary]:
    probs, weight, who = np.array(tally.rows), np.array(tally.weights), np.array(tally.speakers)
    total = weight.sum()
    summaries = []
    for k, name in enumerate(names):
        mine = who == k
        if not mine.any():
            continue  # a voice found, but none of its turns had enough speech to judge
        overall, shares = _weighted(probs[mine], weight[mine])
        turns = int(np.sum(np.diff(np.concatenate([[0], mine.astype(np.int8)])) == 1))
        summaries.append(SpeakerSummary(name, overall, float(weight[mine].sum()), float(weight[mine].sum() / total),
                                        shares, turns))
    return summaries


def _part(advance: Callable[[float], None] | None, fraction: float) -> Callable[[float], None] | None:
    """Progress for one read-through of audio read several times: each second read counts as
    `fraction` of a second of the recording."""
    return None if advance is None else (lambda seconds: advance(seconds * fraction))


def _stopping(blocks: Iterable[np.ndarray], advance: Callable[[float], None] | None,
              rate: int) -> Iterator[np.ndarray]:
    """The blocks, telling `advance` each block's seconds (where a caller may stop the job)."""
    for block in blocks:
        yield block
        if advance is not None:
            advance(len(block) / rate)
