"""Many files at once: short ones decoded, inspected and rendered on worker processes and scored
in batches; long ones (and conversations) read block by block, their progress in seconds."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ser_img.audio.decode import load_audio
from ser_img.speech.quality import measure, warnings_for
from ser_img.errors import AudioError, SerImgError, SilentAudio
from ser_img.features.extractors import render_inputs_batch
from ser_img.records import FileAnswer, Recognition, unjudged
from ser_img.runtime.parallel import worker_pool
from ser_img.scoring.batcher import WINDOW_BATCH
from ser_img.scoring.progress import Progress, in_seconds, no_progress
from ser_img.scoring.timeline import clock
from ser_img.source import FileSource, Source, to_source

FILE_BATCH = 256  # short files handed to the decoding workers at a time, so memory stays flat on big folders
PARALLEL_FROM = 8  # fewer short files than this are decoded in this process
WORKER_GROUP = 8  # files a worker decodes and renders together: the encoders run once over all of them


def answer_files(recognizer, paths: list[Path], image: bool, explain: bool, progress: Progress) -> list[FileAnswer]:
    """A FileAnswer per path, in the order given; failures are answers, never raised."""
    sources = {path: _source_or_error(path, recognizer.options) for path in paths}  # pipes are read once, here
    answers: dict[Path, Recognition | SerImgError] = {
        path: source for path, source in sources.items() if isinstance(source, SerImgError)}
    rate = recognizer.sample_rate
    durations = {path: sources[path].duration(rate) for path in paths if path not in answers}
    conversations = recognizer.options.speakers is not None
    short = [p for p in durations if not recognizer.is_long(durations[p]) and not conversations]
    if short:
        label = f"scoring {len(short)} clip{'s' * (len(short) != 1)}"
        origin = {sources[p].handle: p for p in short}  # paths hash by value, in-memory input by identity
        for handle, answer in progress(_short_files(recognizer, list(origin), image, explain), len(short), label):
            answers[origin[handle]] = answer
    for path in paths:
        if path not in answers:
            answers[path] = long_file(recognizer, sources[path], durations[path], image, explain, progress)
    return [FileAnswer(path, answers[path]) for path in paths]


def _source_or_error(path: Path, options) -> FileSource | SerImgError:
    try:
        return to_source(path, max_duration_s=options.max_duration_s)
    except SerImgError as exc:
        return exc


def _short_files(recognizer, handles: list, image: bool, explain: bool) -> Iterator[tuple]:
    """(handle, answer) as each is ready: decoded on workers, scored WINDOW_BATCH at a time."""
    options = recognizer.options
    # closed here, not by the garbage collector: its workers stop with this job, even on Ctrl-C
    with contextlib.closing(_loaded(recognizer, handles)) as loaded:
        while chunk := list(itertools.islice(loaded, WINDOW_BATCH)):
            rows = iter(recognizer.score([done.inputs for _, done in chunk if done.inputs is not None]))
            for handle, done in chunk:
                name = str(handle)
                if done.error is not None:
                    yield handle, done.error
                elif recognizer.is_long(done.duration):  # its header did not say how long it is: a timeline after all
                    if done.inputs is not None:
                        next(rows)
                    again = FileSource(handle, options.max_duration_s)
                    yield handle, long_file(recognizer, again, done.duration, image, explain, no_progress)
                elif done.inputs is None:  # too little speech to judge
                    yield handle, unjudged(name, done.duration, done.speech_s, done.warnings, recognizer.model_info)
                else:
                    yield handle, recognizer.clip_answer(done.inputs, next(rows), done.duration, name, image,
                                                         explain, done.speech_s, done.warnings)


def long_file(recognizer, source: Source, duration_s: float | None, image: bool, explain: bool,
              progress: Progress) -> Recognition | SerImgError:
    """One long recording (or conversation), its progress shown in seconds of audio."""
    answer: list = []

    def work(advance):
        try:
            answer.append(recognizer.predict(source, image=image, explain=explain, advance=advance))
        except SerImgError as exc:
            answer.append(exc)

    in_seconds(progress, work, duration_s, f"{Path(source.name).name} ({clock(duration_s or 0)} of audio)")
    return answer[0]


@dataclass
class _Loaded:
    """One short file as a worker process leaves it: model inputs (None when there is too little
    speech to judge, or on error), duration, speech found, warnings, or the error."""

    inputs: tuple | None = None
    duration: float = 0.0
    speech_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    error: SerImgError | None = None


def _loaded(recognizer, handles: list) -> Iterator[tuple]:
    """(file, its decoded and rendered inputs) in order, FILE_BATCH files at a time over one pool of
    workers for the whole job: the next batch is already being decoded while this one is
    scored, and no pool is started again every FILE_BATCH files."""
    options, settings = recognizer.options, recognizer.settings
    batches = [handles[start : start + FILE_BATCH] for start in range(0, len(handles), FILE_BATCH)]
    with worker_pool(options.workers if len(handles) > PARALLEL_FROM else 1, lazy=True) as mapper:
        def submit(batch):
            jobs = [(batch[i:i + WORKER_GROUP], settings, options.max_duration_s, options.min_speech_s)
                    for i in range(0, len(batch), WORKER_GROUP)]
            return itertools.chain.from_iterable(mapper(_load_files, jobs))

        pending = submit(batches[0]) if batches else None
        for k, batch in enumerate(batches):
            current, pending = pending, submit(batches[k + 1]) if k + 1 < len(batches) else None
            yield from zip(batch, current)


def _load_files(job: tuple) -> list[_Loaded]:
    """Decode and inspect a group of short files in a worker process, then render those with
    speech enough together (the encoders cost much less a clip over a batch than one by one)."""
    handles, settings, max_duration_s, min_speech_s = job
    loaded = [_inspect(handle, settings, max_duration_s, min_speech_s) for handle in handles]
    judged = [(done, samples) for done, samples in loaded if samples is not None]
    if judged:
        for (done, _), inputs in zip(judged, render_inputs_batch([samples for _, samples in judged], settings)):
            done.inputs = inputs
    return [done for done, _ in loaded]


def _inspect(path, settings, max_duration_s: float | None, min_speech_s: float) -> tuple[_Loaded, object]:
    """One short file decoded and measured: (what is known of it, its samples when it has
    speech enough to be judged, else None)."""
    try:
        audio = load_audio(path, settings.sample_rate, max_duration_s)
    except SilentAudio as exc:  # nothing to judge: the outcome "no speech"
        return _Loaded(duration=exc.duration_s), None
    except SerImgError as exc:
        return _Loaded(error=exc), None
    except OSError as exc:
        return _Loaded(error=AudioError(f"{path}: {exc.strerror or exc}")), None
    quality = measure(audio.samples, settings.sample_rate)
    loaded = _Loaded(duration=audio.duration_s, speech_s=quality.speech_s,
                     warnings=warnings_for(quality, audio.source_rate))
    return loaded, audio.samples if quality.speech_s >= min_speech_s else None
