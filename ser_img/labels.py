"""Emotion classes and what a file's name or folder says about its clip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The order of the classes everywhere: RAVDESS emotion codes 01..08.
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

_RAVDESS_NAME = re.compile(
    r"^(?P<modality>\d{2})-(?P<channel>\d{2})-(?P<emotion>\d{2})-(?P<intensity>\d{2})"
    r"-(?P<statement>\d{2})-(?P<repetition>\d{2})-(?P<actor>\d{2})$"
)


@dataclass(frozen=True)
class ClipInfo:
    """What is known about a clip before it is decoded."""

    label: str | None
    speaker: str | None
    intensity: int | None = None
    statement: int | None = None
    repetition: int | None = None


def parse_ravdess_name(stem: str) -> ClipInfo | None:
    """Parse a RAVDESS stem such as ``03-01-05-02-01-01-12``; None if it is not one."""
    match = _RAVDESS_NAME.match(stem)
    if match is None:
        return None
    emotion = int(match["emotion"])
    if not 1 <= emotion <= len(EMOTIONS):
        return None
    return ClipInfo(
        label=EMOTIONS[emotion - 1],
        speaker=f"ravdess-{match['actor']}",
        intensity=int(match["intensity"]),
        statement=int(match["statement"]),
        repetition=int(match["repetition"]),
    )


def ravdess_stem(emotion: str, intensity: int, statement: int, repetition: int, actor: int) -> str:
    """The RAVDESS audio-only speech name for a clip (modality 03, vocal channel 01)."""
    code = EMOTIONS.index(emotion) + 1
    return f"03-01-{code:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"


def clip_info(path: Path) -> ClipInfo:
    """Label and speaker of an audio file, from its name or else its parent folder."""
    parsed = parse_ravdess_name(path.stem)
    if parsed is not None:
        return parsed
    parent = path.parent.name.lower()
    return ClipInfo(label=parent if parent in EMOTIONS else None, speaker=None)
