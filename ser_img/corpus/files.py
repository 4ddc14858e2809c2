"""Finding the audio files a user pointed at."""

from __future__ import annotations

from pathlib import Path

from ser_img.audio.decode import AUDIO_EXTENSIONS
from ser_img.labels import is_clip_list, read_clip_list


def find_audio(sources: list[Path], repeated: list[Path] | None = None) -> list[tuple[Path, Path]]:
    """(audio file, path relative to the folder it was found under), unique, in the order the
    sources were given (a folder's files sorted by name).

    Folders are searched recursively for audio extensions; a file named directly is
    always taken, whatever its extension, so that its failure is reported rather than
    silently skipped. A source that does not exist is returned too, for the same reason.
    Paths are absolute, whether or not they exist; `-` (standard input) stays `-`.
    A CSV clip list (`labels.read_clip_list`) stands for the files it names.
    A file found again (named twice, or named and inside a folder given) is kept once and,
    when `repeated` is a list, added to it, so that the caller can say so.
    """
    found: dict[Path, Path] = {}

    def add(path: Path, relative: Path) -> None:
        if path in found and repeated is not None:
            repeated.append(path)
        found.setdefault(path, relative)

    for source in map(Path, sources):
        if is_clip_list(source):
            for path, (written, _) in read_clip_list(source).items():
                add(path, Path(written) if not Path(written).is_absolute() else Path(path.name))
        elif source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                    add(path.resolve(), path.relative_to(source))
        else:
            # A pipe (`<(...)`, /dev/stdin) is not resolved: resolved, it names no file.
            path = source if str(source) == "-" else source.resolve() if source.is_file() else source.absolute()
            add(path, Path(source.name))
    return list(found.items())
