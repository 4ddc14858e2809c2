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

from . import __version__
from .audio import InMemory, is_stream, load_audio, read_stream, to_rate
from .errors import AudioError, NoModelError, SerImgError, UsageError
from .labels import EMOTIONS
from .features import render_inputs
from .quality import MIN_SPEECH_S, measure, speech_seconds, warnings_for
from .spectrogram import RenderSettings, encode_png, to_image
from .stream import BLOCK_S, Window, audio_duration, loudest_frame_db, read_blocks, sliding_windows

LONG_FACTOR = 2.0  # audio longer than this many windows is scored as a timeline
SILENCE_DB = -50.0  # a window whose loudest 16-ms stretch is below this level (dBFS) is skipped
WINDOW_BATCH = 32  # windows (or short files) scored per call to the model
FILE_BATCH = 256  # short files handed to the decoding workers at a time, so memory stays flat on big folders

# progress(iterable, total, label) -> the same items (pipelines.Progress)
Progress = Callable[[Iterable, int, str], Iterable]


def _no_progress(items, total, label):
    return items


@dataclass
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    probabilities: np.ndarray  # the eight classes, in EMOTIONS order

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
        return {"start": self.start, "end": self.end, "label": self.label,
                "probabilities": named(self.probabilities)}


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
    speech_s: float | None = None  # seconds of speech found (energy, not a voice detector)
    warnings: list[str] = field(default_factory=list)  # input outside what the model was measured on
    image: np.ndarray | None = field(default=None, repr=False)  # what the model looked at, on request
    image_window: tuple[float, float] | None = None  # the seconds of audio that image shows
    explanation: np.ndarray | None = field(default=None, repr=False)  # (grid, grid) importance, on request

    @property
    def label(self) -> str | None:
        """The emotion; None when there is no judgement (see `outcome`)."""
        return EMOTIONS[int(np.argmax(self.probabilities))] if self.judged else None

    @property
    def judged(self) -> bool:
        return self.outcome == "emotion"

    @property
    def is_timeline(self) -> bool:
        return len(self.timeline) > 1

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
                  "silent_s": self.silent_s, "warnings": list(self.warnings), "model": self.model}
        if self.image is not None:
            record["spectrogram_png"] = _base64_png(self.image)
            record["image_window"] = list(self.image_window)
        if self.explanation is not None:
            from .explain import NOISE_FLOOR, SCALE_MAX, overlay, stands_out, summary

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
                 hop_s: float | None = None, workers: int | None = None, silence_db: float = SILENCE_DB,
                 max_duration_s: float | None = None, min_speech_s: float = MIN_SPEECH_S):
        self.model = model
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.settings: RenderSettings = model.render_settings
        self.sample_rate = self.settings.sample_rate
        self.window_s = float(window_s or self.settings.window_s)
        self.hop_s = float(hop_s or self.window_s / 2)
        if self.window_s <= 0 or self.hop_s <= 0:
            raise UsageError("window and hop must be positive")
        self.workers = workers
        self.silence_db = silence_db
        # Longer audio (or more channels x rate x time than as long 48-kHz stereo) is refused
        # before it is decoded: a server's guard against headers that promise hours.
        self.max_duration_s = max_duration_s
        # Less speech than this gets no emotion, but the outcome "too short" (docs/trust.md).
        self.min_speech_s = min_speech_s
        self._score = _Batcher(model.predict_prepared)

    @classmethod
    def load(cls, path: str | Path | None = None, **options) -> EmotionRecognizer:
        """The model at `path`, or the default one (newest under ./artifacts, else packaged)."""
        from .model import load_model

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
                explain: bool = False, advance: Callable[[float], None] | None = None) -> Recognition:
        """Recognize a file (any format libsndfile reads) or a mono/(n, channels) array at `sr` Hz.

        `image` keeps the spectrogram image the model looked at; `explain` adds which of its
        regions drove the decision. `advance(seconds)` is told as long audio is scored.
        """
        if isinstance(source, np.ndarray):
            return self._predict_signal(source, sr, image, explain, advance)
        if sr is not None:
            raise UsageError("sr is for arrays; a file's rate is read from the file")
        path = _readable(source)
        duration = audio_duration(path)
        if self.is_long(duration):
            blocks = read_blocks(path, self.sample_rate, max_duration_s=self.max_duration_s)
            return self._recognize(blocks, duration, str(path), image, explain, advance)
        audio = load_audio(path, self.sample_rate, self.max_duration_s)
        return self._recognize([audio.samples], audio.duration_s, str(path), image, explain, advance,
                               source_rate=audio.source_rate)

    def _predict_signal(self, samples: np.ndarray, sr: int | None, image: bool, explain: bool,
                        advance) -> Recognition:
        if sr is None:
            raise UsageError("an audio array needs its sample rate: predict(samples, sr=RATE)")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1 or samples.size == 0:
            raise AudioError("audio array: expected a non-empty mono array or (samples, channels)")
        samples = to_rate(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0), int(sr), self.sample_rate)
        duration = samples.size / self.sample_rate
        block = int(BLOCK_S * self.sample_rate)
        blocks = [samples[i : i + block] for i in range(0, samples.size, block)] if self.is_long(duration) else [samples]
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
        from .explain import occlusion

        silence = to_image(np.zeros((1, 1), np.float32), self.settings)[0, 0]
        return occlusion(lambda images: self.score_images(images, descriptors), image, target, silence)

    def score_images(self, images: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """Probabilities of images that share one clip's descriptors (explanations and their tests)."""
        return self._score([(im, descriptors) for im in images])

    def _prepare(self, signals: list[np.ndarray]) -> list[tuple]:
        """Rendered in the caller's thread, so concurrent requests render in parallel."""
        return [render_inputs(signal, self.settings) for signal in signals]

    def _timeline(self, blocks: Iterable[np.ndarray], duration_s: float, source: str | None, image: bool,
                  explain: bool, advance) -> Recognition:
        rate = self.sample_rate
        window, hop = int(round(self.window_s * rate)), int(round(self.hop_s * rate))
        frame = max(1, int(0.016 * rate))
        starts, ends, rows, weights = [], [], [], []
        silent, total, speech = 0.0, 0, 0.0
        warned: dict[str, list[str]] = {}  # kind of warning -> its text for each window that had it
        shown: dict[int, tuple] = {}  # per class: (probability, prepared, window) of its most typical window
        for batch in _batched(sliding_windows(blocks, window, hop, min_tail=hop), WINDOW_BATCH):
            if advance is not None:
                advance(0.0)  # a caller that wants the job stopped (a server's timeout) can stop it here
            voiced = [w for w in batch if loudest_frame_db(w.samples, frame) >= self.silence_db]
            speech += sum(speech_seconds(w.samples[: _span(w, hop)], rate) for w in voiced)
            # A window with too little speech to judge is passed over like silence.
            voiced = [w for w in voiced if speech_seconds(w.samples, rate) >= self.min_speech_s]
            for w in voiced:
                for text in warnings_for(measure(w.samples, rate)):
                    warned.setdefault(text.split(" (")[0], []).append(text)
            silent += (sum(_span(w, hop) for w in batch) - sum(_span(w, hop) for w in voiced)) / rate
            if voiced:
                prepared = self._prepare([w.samples for w in voiced])
                for w, row, inputs in zip(voiced, self._score(prepared), prepared):
                    starts.append(w.start / rate)
                    ends.append(w.end / rate)
                    rows.append(row)
                    weights.append(_span(w, hop) / rate)
                    best = int(row.argmax())
                    if (image or explain) and row[best] > shown.get(best, (-1.0,))[0]:
                        shown[best] = (row[best], inputs, (round(w.start / rate, 3), round(w.end / rate, 3)))
            if advance is not None:
                advance((batch[-1].end - total) / rate)
            total = batch[-1].end
        if not rows and speech == 0:
            raise AudioError(f"{source or 'audio array'}: only silence (no stretch louder than "
                             f"{self.silence_db:.0f} dBFS)")
        if not rows:  # some sound, but no window with enough speech to judge
            return unjudged(source, duration_s, round(speech, 3), [], self.model_info)
        probs, weight = np.array(rows), np.array(weights)
        overall = (probs * weight[:, None]).sum(axis=0) / weight.sum()
        shares = np.bincount(probs.argmax(axis=1), weights=weight, minlength=len(EMOTIONS)) / weight.sum()
        result = Recognition(
            source=source, probabilities=overall, duration_s=round(float(duration_s), 3),
            timeline=[Segment(round(s, 3), round(e, 3), r) for s, e, r in zip(starts, ends, rows)],
            shares=shares, model=self.model_info, silent_s=round(silent, 3), speech_s=round(speech, 3),
            # a warning most of the scored windows share is the recording's
            warnings=[texts[0] for texts in warned.values() if len(texts) * 2 >= len(rows)])
        if shown:
            # The image: the window most typical of the overall label (else of any label).
            _, inputs, where = shown.get(int(overall.argmax())) or max(shown.values(), key=lambda x: x[0])
            self._with_image(result, inputs, where, image, explain)
        return result

    # -- many files ------------------------------------------------------------------------

    def predict_files(self, paths: list[Path], image: bool = False, explain: bool = False,
                      progress: Progress = _no_progress) -> list[FileAnswer]:
        """A FileAnswer per file, in the order given: (path, answer), where the answer is the
        Recognition or, for a file that could not be recognized, the SerImgError that says why
        (`.ok`, `.result` and `.error` tell them apart). Failures never raise.

        Short files are decoded and rendered on `workers` processes and scored in batches;
        long ones are read block by block, their progress counted in seconds of audio.
        """
        readable = {path: _readable_or_error(path) for path in paths}  # pipes are read once, here
        answers: dict[Path, Recognition | SerImgError] = {
            path: read for path, read in readable.items() if isinstance(read, SerImgError)}
        durations = {path: audio_duration(readable[path]) for path in paths if path not in answers}
        short = [p for p in durations if not self.is_long(durations[p])]
        if short:
            label = f"scoring {len(short)} clip{'s' * (len(short) != 1)}"
            origin = {readable[p]: p for p in short}  # paths hash by value, in-memory input by identity
            for source, answer in progress(self._short_files(list(origin), image, explain), len(short), label):
                answers[origin[source]] = answer
        for path in paths:
            if path not in answers:
                answers[path] = self._long_file(readable[path], durations[path], image, explain, progress)
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

    def _long_file(self, path: Path, duration_s: float, image: bool, explain: bool,
                   progress: Progress) -> Recognition | SerImgError:
        answer: list = []

        def work(advance):
            try:
                answer.append(self.predict(path, image=image, explain=explain, advance=advance))
            except SerImgError as exc:
                answer.append(exc)

        label = f"{path.name} ({_clock(duration_s)} of audio)"
        for _ in progress(_seconds_done(work), int(np.ceil(duration_s)), label):
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


def _run_parallel(function, jobs, workers):
    from .parallel import run_parallel

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
    from .model import find_default_model

    if path is not None:
        return Path(path)
    found = find_default_model()
    if found is None:
        raise NoModelError("no model found (none under ./artifacts, and no packaged model installed)")
    return found


def describe_model_dir(model_dir: Path) -> str:
    """How people should read a model's place: the shipped one by name, others by path."""
    from .model import PACKAGED_MODEL

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


def _batched(windows: Iterable[Window], size: int) -> Iterator[list[Window]]:
    batch: list[Window] = []
    for window in windows:
        batch.append(window)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
