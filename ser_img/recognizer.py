"""One object from audio to an answer, shared by the CLI, the HTTP server and Python.

    from ser_img import EmotionRecognizer
    recognizer = EmotionRecognizer.load()           # the default model
    result = recognizer.predict("talk.wav")         # or recognizer.predict(samples, sr=44100)
    result.label, result.probabilities, result.timeline, result.shares
    for source, answer in recognizer.predict_files(paths): ...   # many files, decoded in parallel

The recognizer holds the model and its `RecognizerOptions` (window, hop, segmenter, speakers,
limits, workers). Whatever it is given becomes one `Source` (ser_img.source): a short recording
(up to twice the window) is scored whole, exactly as clips were rendered for training; a longer
one is cut into windows read block by block (memory stays flat), windows with too little speech
are skipped, and each scored window is a segment of the timeline; with speakers asked for, each
speaker's turns are scored (ser_img.scoring.conversation). The answer is a `Recognition`
(ser_img.records), whose views are every output's shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ser_img.speech.quality import measure, warnings_for
from ser_img.audio.stream import batched
from ser_img.errors import NoModelError, SilentAudio
from ser_img.features.extractors import render_inputs_batch
from ser_img.features.spectrogram import RenderSettings, to_image
from ser_img.labels import EMOTIONS
from ser_img.options import RecognizerOptions
from ser_img.records import FileAnswer, Recognition, Segment, unjudged
from ser_img.scoring.batcher import WINDOW_BATCH, Batcher
from ser_img.scoring.conversation import score_conversation
from ser_img.scoring.files import answer_files
from ser_img.scoring.progress import Advance, Progress, no_progress
from ser_img.scoring.timeline import Tally, timeline_result
from ser_img.source import to_source
from ser_img.speech.segmenter import get_segmenter
from ser_img.speech.windows import sliding_windows, stands_for
from ser_img.version import __version__

LONG_FACTOR = 2.0  # audio longer than this many windows is scored as a timeline

DEFAULT = object()  # an argument left out: the recognizer's own setting applies


class EmotionRecognizer:
    """A loaded model and how to apply it (`options`). Thread-safe.

    Concurrent calls are batched: clips waiting while the model is busy are scored
    together in its next pass.
    """

    def __init__(self, model, model_dir: Path | None = None, options: RecognizerOptions | None = None,
                 **keywords):
        """`keywords` (window_s=, hop_s=, segmenter=, speakers=, max_duration_s=, min_speech_s=,
        workers=) change `options`, or the defaults."""
        self.model = model
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.settings: RenderSettings = model.render_settings
        self.sample_rate = self.settings.sample_rate
        self.options = (options or RecognizerOptions()).replace(**keywords)
        self.window_s, self.hop_s = self.options.window(self.settings.window_s)
        self.segmenter = get_segmenter(self.options.segmenter)
        self.score = Batcher(model.predict_prepared)

    @classmethod
    def load(cls, path: str | Path | None = None, options: RecognizerOptions | None = None,
             **keywords) -> EmotionRecognizer:
        """The model at `path`, or the default one (newest under ./artifacts, else packaged)."""
        from ser_img.store.load import load_model

        model_dir = resolve_model_dir(path)
        return cls(load_model(model_dir), model_dir, options, **keywords)

    def with_options(self, **changes) -> EmotionRecognizer:
        """The same model under changed options (shares the model and its batching)."""
        options = self.options.replace(**changes)
        if options is self.options:
            return self
        other = object.__new__(EmotionRecognizer)
        other.__dict__.update(self.__dict__)
        other.options = options
        other.window_s, other.hop_s = options.window(self.settings.window_s)
        if options.segmenter != self.options.segmenter:
            other.segmenter = get_segmenter(options.segmenter)
        return other

    # The options, read where they used to be attributes of their own.
    speakers = property(lambda self: self.options.speakers)
    workers = property(lambda self: self.options.workers)
    max_duration_s = property(lambda self: self.options.max_duration_s)
    min_speech_s = property(lambda self: self.options.min_speech_s)

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

    def window_samples(self) -> tuple[int, int]:
        """(window, hop) in samples at the model's rate."""
        rate = self.sample_rate
        return int(round(self.window_s * rate)), int(round(self.hop_s * rate))

    # -- one recording -------------------------------------------------------------------

    def predict(self, source, sr: int | None = None, image: bool = False, explain: bool = False,
                advance: Advance | None = None, speakers: str | int | None = DEFAULT) -> Recognition:
        """Recognize a file (any format libsndfile reads), bytes, a file-like object, or a
        mono/(n, channels) array at `sr` Hz.

        `image` keeps the spectrogram image the model looked at; `explain` adds which of its
        regions drove the decision. `advance(seconds)` is told as long audio is scored.
        `speakers` ("auto", a number, or "channels" for a two-party stereo recording) scores
        each speaker's turns: every segment names its speaker, and `speakers` sums them up
        (by default, the recognizer's `speakers`).
        """
        if speakers is not DEFAULT:
            return self.with_options(speakers=speakers).predict(source, sr, image, explain, advance)
        source = to_source(source, sr, self.max_duration_s)
        if self.speakers is not None:
            return score_conversation(self, source, image, explain, advance)
        duration = source.duration(self.sample_rate)
        if self.is_long(duration):
            blocks = source.blocks(self.sample_rate)
            return self._timeline(blocks, duration, source.name, image, explain, advance)
        try:
            audio = source.load(self.sample_rate)
        except SilentAudio as exc:  # nothing to judge: an outcome, as for any audio without speech
            return unjudged(source.name, exc.duration_s, 0.0, [], self.model_info)
        if self.is_long(audio.duration_s):  # the header did not say: a timeline after all
            return self._timeline([audio.samples], audio.duration_s, source.name, image, explain, advance)
        return self._clip(audio.samples, audio.duration_s, source.name, image, explain, audio.source_rate)

    def _clip(self, samples: np.ndarray, duration_s: float, name: str | None, image: bool, explain: bool,
              source_rate: int | None) -> Recognition:
        """A short recording, scored whole."""
        speech_s, warnings = self.inspect(samples, source_rate)
        if speech_s < self.min_speech_s:
            return unjudged(name, duration_s, speech_s, warnings, self.model_info)
        prepared = self.render([samples])
        return self.clip_answer(prepared[0], self.score(prepared)[0], duration_s, name, image, explain,
                                speech_s, warnings)

    def inspect(self, samples: np.ndarray, source_rate: int | None = None) -> tuple[float, list[str]]:
        """Seconds of speech in a clip at the model's rate, and warnings about it (docs/trust.md)."""
        quality = measure(samples, self.sample_rate)
        return quality.speech_s, warnings_for(quality, source_rate)

    def clip_answer(self, prepared: tuple, row: np.ndarray, duration_s: float, source: str | None,
                    image: bool, explain: bool, speech_s: float | None = None,
                    warnings: list[str] | None = None) -> Recognition:
        """The answer for a clip scored whole: one segment, its probabilities `row`."""
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
        return self.score([(im, descriptors) for im in images])

    def render(self, signals: list[np.ndarray]) -> list[tuple]:
        """Model inputs of signals, rendered in the caller's thread (so concurrent requests
        render in parallel)."""
        return render_inputs_batch(signals, self.settings)

    # -- long recordings ------------------------------------------------------------------

    def _timeline(self, blocks: Iterable[np.ndarray], duration_s: float, source: str | None, image: bool,
                  explain: bool, advance) -> Recognition:
        rate = self.sample_rate
        window, hop = self.window_samples()
        mask = self.segmenter.new_mask(rate)
        tally = Tally(rate, image or explain)
        total = 0
        for batch in batched(sliding_windows(self.segmenter.follow(blocks, mask), window, hop, min_tail=hop),
                             WINDOW_BATCH):
            if advance is not None:
                advance(0.0)  # a caller that wants the job stopped (a server's timeout) can stop it here
            # A window with too little speech to judge is passed over like silence.
            voiced = [w for w in batch if mask.seconds(w.start, w.end) >= self.min_speech_s]
            if voiced:
                prepared = self.render([w.samples for w in voiced])
                tally.add(voiced, list(zip(self.score(prepared), prepared)),
                          [stands_for(w.start, w.end, hop) / rate for w in voiced])
            if advance is not None:
                advance((batch[-1].end - total) / rate)
            total = batch[-1].end
        return self.timeline_answer(tally, mask.seconds(), total / rate, duration_s, source, image, explain)

    def timeline_answer(self, tally: Tally, speech_s: float, audio_s: float, duration_s: float,
                        source: str | None, image: bool, explain: bool,
                        names: list[str] | None = None) -> Recognition:
        """The answer a tally of scored windows adds up to (`names`: the tally's speakers' names),
        with the image asked for."""
        result = timeline_result(tally, speech_s, audio_s, duration_s, source, self.model_info, names)
        if result.judged and tally.shown:
            # The image: the window most typical of the overall label (else of any label).
            inputs, where = tally.shown_for(int(result.probabilities.argmax()))
            self._with_image(result, inputs, where, image, explain)
        return result

    # -- many files ------------------------------------------------------------------------

    def predict_files(self, paths: list[Path], image: bool = False, explain: bool = False,
                      progress: Progress = no_progress, speakers: str | int | None = DEFAULT) -> list[FileAnswer]:
        """A FileAnswer per file, in the order given: (path, answer), where the answer is the
        Recognition or, for a file that could not be recognized, the SerImgError that says why
        (`.ok`, `.result` and `.error` tell them apart). Failures never raise.

        Short files are decoded and rendered on `workers` processes and scored in batches;
        long ones (and every file when speakers are asked for) are read block by block, their
        progress counted in seconds of audio.
        """
        if speakers is not DEFAULT:
            return self.with_options(speakers=speakers).predict_files(paths, image, explain, progress)
        return answer_files(self, paths, image, explain, progress)


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
            name = json.loads((PACKAGED_MODEL / "model.json").read_text(encoding="utf-8")).get("name", "model")
            return f"{name} (shipped)"
    except (OSError, ValueError):
        pass
    return str(model_dir)
