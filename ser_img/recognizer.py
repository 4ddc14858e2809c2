"""One code path from audio to an answer, shared by the CLI, the HTTP server and Python.

    from ser_img import EmotionRecognizer
    recognizer = EmotionRecognizer.load()          # the default model
    result = recognizer.predict("talk.wav")
    result.label, result.probabilities, result.timeline, result.shares

A short clip (up to twice the model's window) is scored whole, exactly as it was rendered
for training: trimmed and centred in the window. A longer recording is read in blocks and
scored window by window (``window_s`` long, every ``hop_s``); windows that hold only
silence are skipped. Each scored window is a segment of the timeline; the overall label
and probabilities weigh the segments by the time each one stands for, and `shares` is the
part of the scored time each emotion takes.

Clips are rendered once (`render_inputs`: the image and the descriptors, as in training)
and scored through `EmotionModel.predict_prepared`; the image shown on request is that same one.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .audio import load_audio, to_rate
from .errors import AudioError, ModelError, UsageError
from .labels import EMOTIONS
from .features import render_inputs
from .spectrogram import encode_png
from .stream import BLOCK_S, Window, audio_duration, loudest_frame_db, read_blocks, sliding_windows

LONG_FACTOR = 2.0  # audio longer than this many windows is scored as a timeline
SILENCE_DB = -50.0  # a window whose loudest 16-ms stretch is below this level (dBFS) is skipped
WINDOW_BATCH = 32  # windows scored per call to the model


@dataclass
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Recognition:
    """What the recognizer says about one recording (the API's JSON is `to_dict()`)."""

    label: str
    probabilities: dict[str, float]  # the eight classes, in EMOTIONS order
    duration_s: float
    timeline: list[Segment]  # one segment for a short clip
    shares: dict[str, float]  # part of the scored time per emotion; sums to 1
    model: dict[str, str]  # name and version
    source: str | None = None
    silent_s: float = 0.0  # time skipped as silence (long audio only)
    image_png: bytes | None = field(default=None, repr=False)  # what the model looked at, on request

    @property
    def is_timeline(self) -> bool:
        return len(self.timeline) > 1

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        del values["image_png"]
        if values["source"] is None:
            del values["source"]
        return values


class EmotionRecognizer:
    """A loaded model and the settings to apply it; safe to share between threads.

    Concurrent calls are batched: clips waiting while the model is busy are scored
    together in its next pass.
    """

    def __init__(self, model, model_dir: Path | None = None, window_s: float | None = None,
                 hop_s: float | None = None, silence_db: float = SILENCE_DB):
        self.model = model
        self.model_dir = Path(model_dir) if model_dir is not None else None
        settings = model.render_settings
        self.sample_rate = settings.sample_rate
        self.window_s = float(window_s or settings.window_s)
        self.hop_s = float(hop_s or self.window_s / 2)
        if self.window_s <= 0 or self.hop_s <= 0:
            raise UsageError("window and hop must be positive")
        self.silence_db = silence_db
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

    def is_long(self, duration_s: float) -> bool:
        return duration_s > LONG_FACTOR * self.window_s

    def predict(self, source: str | Path | np.ndarray, sr: int | None = None,
                with_image: bool = False) -> Recognition:
        """Recognize a file (any format libsndfile reads) or a mono/(n, channels) array at `sr` Hz.

        An array without `sr` is taken to be at the model's sample rate.
        """
        if isinstance(source, np.ndarray):
            return self._predict_array(source, sr, with_image)
        path = Path(source)
        duration = audio_duration(path)
        if duration is not None and self.is_long(duration):
            return self.predict_long(path, duration, with_image)
        audio = load_audio(path, self.sample_rate)
        return self.predict_clips([audio.samples], [audio.duration_s], [str(path)], with_image)[0]

    def _predict_array(self, samples: np.ndarray, sr: int | None, with_image: bool) -> Recognition:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1 or samples.size == 0:
            raise AudioError("audio array: expected a non-empty mono array or (samples, channels)")
        rate = int(sr or self.sample_rate)
        samples = to_rate(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0), rate, self.sample_rate)
        duration = samples.size / self.sample_rate
        if not self.is_long(duration):
            return self.predict_clips([samples], [duration], [None], with_image)[0]
        block = int(BLOCK_S * self.sample_rate)
        blocks = (samples[i : i + block] for i in range(0, samples.size, block))
        return self._timeline(blocks, duration, None, with_image)

    def predict_clips(self, signals: list[np.ndarray], durations: list[float], sources: list[str | None],
                      with_image: bool = False) -> list[Recognition]:
        """Short clips, scored in one batch, each whole as in training: one segment each."""
        return self.predict_prepared(self._prepare(signals), durations, sources, with_image)

    def predict_prepared(self, prepared: list[tuple], durations: list[float], sources: list[str | None],
                         with_image: bool = False) -> list[Recognition]:
        """Like `predict_clips`, for clips already rendered by `render_inputs` (in worker
        processes, say)."""
        results = []
        for (image, _), duration, source, row in zip(prepared, durations, sources, self._score(prepared)):
            named = _named(row)
            label = EMOTIONS[int(row.argmax())]
            results.append(Recognition(
                label=label, probabilities=named, duration_s=round(duration, 3),
                timeline=[Segment(0.0, round(duration, 3), label, named)],
                shares={e: float(e == label) for e in EMOTIONS}, model=self.model_info, source=source,
                image_png=encode_png(image) if with_image else None))
        return results

    def _prepare(self, signals: list[np.ndarray]) -> list[tuple]:
        """Rendered in the caller's thread, so concurrent requests render in parallel."""
        return [render_inputs(signal, self.model.render_settings) for signal in signals]

    def predict_long(self, path: Path, duration_s: float | None = None, with_image: bool = False) -> Recognition:
        """A long file as a timeline, decoded block by block (memory stays bounded)."""
        return self._timeline(read_blocks(path, self.sample_rate), duration_s, str(path), with_image)

    def _timeline(self, blocks: Iterable[np.ndarray], duration_s: float | None, source: str | None,
                  with_image: bool) -> Recognition:
        rate = self.sample_rate
        window, hop = int(round(self.window_s * rate)), int(round(self.hop_s * rate))
        frame = max(1, int(0.016 * rate))
        segments: list[Segment] = []
        weights: list[float] = []
        silent = 0.0
        first_image: np.ndarray | None = None
        total = 0
        for batch in _batched(sliding_windows(blocks, window, hop, min_tail=hop), WINDOW_BATCH):
            total = batch[-1].end
            voiced = [w for w in batch if loudest_frame_db(w.samples, frame) >= self.silence_db]
            silent += (sum(_span(w, hop) for w in batch) - sum(_span(w, hop) for w in voiced)) / rate
            if not voiced:
                continue
            prepared = self._prepare([w.samples for w in voiced])
            if first_image is None:
                first_image = prepared[0][0]
            for w, row in zip(voiced, self._score(prepared)):
                named = _named(row)
                segments.append(Segment(round(w.start / rate, 3), round(w.end / rate, 3),
                                        EMOTIONS[int(row.argmax())], named))
                weights.append(_span(w, hop) / rate)
        where = source or "audio array"
        if not segments:
            raise AudioError(f"{where}: only silence (no stretch louder than {self.silence_db:.0f} dBFS)")
        probs = np.array([[s.probabilities[e] for e in EMOTIONS] for s in segments])
        weight = np.array(weights)
        overall = (probs * weight[:, None]).sum(axis=0) / weight.sum()
        shares = {e: float(weight[[s.label == e for s in segments]].sum() / weight.sum()) for e in EMOTIONS}
        return Recognition(
            label=EMOTIONS[int(overall.argmax())], probabilities=_named(overall),
            duration_s=round(duration_s if duration_s is not None else total / rate, 3), timeline=segments,
            shares=shares, model=self.model_info, source=source, silent_s=round(silent, 3),
            image_png=encode_png(first_image) if with_image else None)


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
        raise ModelError("no model found: pass --model DIR, or train one with 'ser-img train' "
                         "(models are looked for under ./artifacts)")
    return found


def _named(row: np.ndarray) -> dict[str, float]:
    return {name: float(p) for name, p in zip(EMOTIONS, row)}


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
