"""How a recognizer applies its model, in one frozen object built and validated once.

    options = RecognizerOptions(window_s=4, speakers="auto")        # Python keywords
    options = RecognizerOptions.from_fields({"speakers": "2"})      # form fields, CLI flags
    EmotionRecognizer.load(options=options)

Everything that used to travel as loose parameters (window, hop, segmenter, speakers, limits,
workers) travels as this one value: to threads, to worker processes and to cluster workers
alike (it pickles). `replace` gives a changed copy, validated again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ser_img.speech.quality import MIN_SPEECH_S
from ser_img.conversation.speakers import parse_speakers
from ser_img.errors import UsageError
from ser_img.speech.segmenter import SEGMENTERS

DEFAULT_SEGMENTER = "silero"


@dataclass(frozen=True)
class RecognizerOptions:
    # Seconds of audio each window of a long recording holds; None: the model's own window.
    window_s: float | None = None
    # Seconds between window starts; None: half the window.
    hop_s: float | None = None
    # What finds the speech in long audio and conversations (ser_img.speech.segmenter).
    segmenter: str = DEFAULT_SEGMENTER
    # Who speaks: None (one voice), "auto", a number of speakers, or "channels" (one party per
    # channel of a two-channel recording). Strings such as "2" are read as numbers.
    speakers: str | int | None = None
    # Longer audio (or as many values as that long 48-kHz stereo) is refused before it is
    # decoded: a server's guard against headers that promise hours. None: no limit.
    max_duration_s: float | None = None
    # Less speech than this gets no emotion but the outcome "too short" (docs/trust.md).
    min_speech_s: float = MIN_SPEECH_S
    # Processes that decode and render files; None: every core.
    workers: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "speakers", parse_speakers(self.speakers))
        for name in ("window_s", "hop_s", "max_duration_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UsageError(f"{name} must be positive, not {value!r}")
        if self.segmenter not in SEGMENTERS:
            raise UsageError(f"unknown segmenter {self.segmenter!r}; choose from {', '.join(SEGMENTERS)}")
        if self.min_speech_s < 0:
            raise UsageError(f"min_speech_s must not be negative, not {self.min_speech_s!r}")
        if self.window_s is not None and self.window_s < self.min_speech_s:
            raise UsageError(f"a window of {self.window_s:g} s can never hold the {self.min_speech_s:g} s of speech "
                             f"an answer needs: choose a window of at least {self.min_speech_s:g} s")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"workers must be at least 1, not {self.workers!r}")

    @classmethod
    def from_fields(cls, fields: dict) -> RecognizerOptions:
        """Options from named text or values (CLI flags, HTTP form fields); None means the default."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise UsageError(f"unknown recognizer option {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
        return cls(**{name: value for name, value in fields.items() if value is not None})

    def replace(self, **changes) -> RecognizerOptions:
        """A copy with `changes` (validated again); the same object when nothing changes."""
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        return dataclasses.replace(self, **changes) if changes else self

    def window(self, model_window_s: float) -> tuple[float, float]:
        """(window, hop) in seconds for a model whose clips are `model_window_s` long."""
        window = float(self.window_s or model_window_s)
        return window, float(self.hop_s or window / 2)
