"""Emotion classes and what a file's name or folder says about its clip."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    # Why a file whose name was recognised still has no label (EmoDB's boredom); None otherwise.
    note: str | None = None


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


# Other corpora's names, matched case-insensitively; their emotion codes mapped onto
# EMOTIONS where the meaning matches (TESS's "ps", pleasant surprise, is surprised).
# TESS as distributed (the Toronto dataverse, Kaggle's "TESS Toronto emotional speech set data"):
# OAF_angry/OAF_back_angry.wav, OAF_Pleasant_surprise/OAF_back_ps.wav,
# YAF_pleasant_surprised/YAF_back_ps.wav; copies spell the emotion out, change the case, or
# put spaces or hyphens for the underscores.
_TESS_EMOTIONS = {"angry": "angry", "anger": "angry", "disgust": "disgust", "disgusted": "disgust",
                  "fear": "fearful", "fearful": "fearful", "happy": "happy", "happiness": "happy",
                  "neutral": "neutral", "ps": "surprised", "pleasant_surprise": "surprised",
                  "pleasant_surprised": "surprised", "surprise": "surprised", "surprised": "surprised",
                  "sad": "sad", "sadness": "sad"}
_TESS = ("tess", re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[a-z']+)_(?P<emotion>[a-z]+(?:_[a-z]+)?)$",
                            re.IGNORECASE), _TESS_EMOTIONS)
_TESS_FOLDER = ("tess", re.compile(r"^(?P<speaker>OAF|YAF)_(?P<emotion>[a-z]+(?:_[a-z]+)?)$", re.IGNORECASE),
                _TESS_EMOTIONS)
_CREMA = ("crema", re.compile(r"^(?P<speaker>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})"
                              r"_(?P<level>LO|MD|HI|XX|X)$", re.IGNORECASE),
          {"ang": "angry", "dis": "disgust", "fea": "fearful", "hap": "happy", "neu": "neutral", "sad": "sad"})
# SAVEE: "a01" inside a speaker folder (DC/a01.wav), or "DC_a01" as in flattened copies.
_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE = ("savee", re.compile(rf"^(?:(?P<speaker>{'|'.join(_SAVEE_SPEAKERS)})_)?(?P<emotion>sa|su|a|d|f|h|n)"
                              r"(?P<sentence>\d{2})$", re.IGNORECASE),
          {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised"})


def _parse_corpus_name(stem: str, corpus: tuple, speaker: str | None = None) -> ClipInfo | None:
    """Label and corpus-prefixed speaker from a name in `corpus`'s scheme; None if it is not one."""
    name, pattern, emotions = corpus
    match = pattern.match(stem)
    label = emotions.get(match["emotion"].lower()) if match else None
    speaker = (match["speaker"] or speaker) if label else None
    return ClipInfo(label=label, speaker=f"{name}-{speaker.upper()}") if speaker else None


def _tidy(stem: str) -> str:
    """A copied corpus file's stem as its corpus wrote it: no surrounding spaces, no copy
    marker (" (1)", " - Copy"), and underscores where a copy put spaces or hyphens."""
    stem = re.sub(r"(?:\s*\(\d+\)|\s*-\s*copy(?:\s*\(\d+\))?|\s+copy)$", "", stem.strip(), flags=re.IGNORECASE)
    return re.sub(r"[\s\-]+", "_", stem.strip())


def parse_tess_name(stem: str) -> ClipInfo | None:
    """TESS: ``OAF_back_fear`` (speaker, word, emotion); also ``YAF_back_pleasant_surprised``,
    ``oaf back Angry`` and the like."""
    return _parse_corpus_name(_tidy(stem), _TESS)


def parse_tess_path(path: Path) -> ClipInfo | None:
    """TESS by name, else by the nearest TESS folder above the file (``OAF_Pleasant_surprise/``,
    ``YAF_fear/``), whatever folders lie between (``testnew/``, the Kaggle archive's doubled
    top folder): a file renamed inside a TESS folder still has its speaker and emotion."""
    path = Path(path)
    named = parse_tess_name(path.stem)
    if named is not None:
        return named
    for folder in list(path.parents)[:3]:
        found = _parse_corpus_name(_tidy(folder.name), _TESS_FOLDER)
        if found is not None:
            return found
    return None


# EmoDB (Berlin): ``03a01Fa`` is speaker 03, text a01, emotion F (Freude), version a. The ten
# speakers and ten texts are listed, so that other names of that shape are not taken for it.
_EMODB_NAME = re.compile(r"^(?P<speaker>03|08|09|10|11|12|13|14|15|16)(?P<text>a0[12457]|b0[1239]|b10)"
                         r"(?P<emotion>[WLEAFTN])(?P<version>[a-z])$", re.IGNORECASE)
_EMODB_EMOTIONS = {"W": "angry", "E": "disgust", "A": "fearful", "F": "happy", "N": "neutral", "T": "sad"}
EMODB_BOREDOM = "EmoDB boredom (L, Langeweile) is none of the eight classes"


def parse_emodb_name(stem: str) -> ClipInfo | None:
    """EmoDB: ``03a01Fa`` (speaker, text, emotion letter, version). W Wut angry, E Ekel
    disgust, A Angst fearful, F Freude happy, N neutral, T Trauer sad; L Langeweile (boredom)
    has no class here, so it keeps its speaker, no label and a `note` saying why."""
    match = _EMODB_NAME.match(_tidy(stem))
    if match is None:
        return None
    letter = match["emotion"].upper()
    speaker = f"emodb-{match['speaker']}"
    if letter == "L":
        return ClipInfo(label=None, speaker=speaker, note=EMODB_BOREDOM)
    return ClipInfo(label=_EMODB_EMOTIONS[letter], speaker=speaker)


def parse_crema_name(stem: str) -> ClipInfo | None:
    """CREMA-D: ``1001_DFA_ANG_XX`` (actor, sentence, emotion, level)."""
    return _parse_corpus_name(stem, _CREMA)


def parse_savee_name(path: Path) -> ClipInfo | None:
    """SAVEE: ``DC/a01.wav`` or ``DC_a01.wav``.

    A bare ``a01`` counts only inside a speaker folder: elsewhere it is too common a name.
    """
    folder = path.parent.name.upper()
    return _parse_corpus_name(path.stem, _SAVEE, folder if folder in _SAVEE_SPEAKERS else None)


def clip_info(path: Path, listed: dict[Path, ClipInfo] | None = None) -> ClipInfo:
    """Label and speaker of an audio file: from a clip list (`listed`, see `read_clip_list`),
    else its corpus's naming, else its parent folder.

    RAVDESS, TESS, CREMA-D, SAVEE and EmoDB names give both (TESS also its folders); an
    EmoDB boredom clip gives its speaker, no label and a `note`. Any other file takes its label
    from an emotion-named parent folder and has no known speaker.
    """
    path = Path(path)
    if listed and path.resolve() in listed:
        return listed[path.resolve()]
    parsed = (parse_ravdess_name(path.stem) or parse_tess_name(path.stem) or parse_crema_name(path.stem)
              or parse_savee_name(path) or parse_emodb_name(path.stem) or parse_tess_path(path))
    if parsed is not None:
        return parsed
    parent = path.parent.name.lower()
    return ClipInfo(label=parent if parent in EMOTIONS else None, speaker=None)


def speaker_lookup(spec: str) -> Callable[[Path], str | None]:
    """Who speaks in a file, by `spec`: "name" (the corpus naming above), "folder" (the
    folder the file is in, or the one above it when that one is named after an emotion)
    or the path of a CSV of `path,speaker` rows (paths as written, relative to the CSV's
    folder, or bare file names)."""
    if spec == "name":
        return lambda path: clip_info(path).speaker
    if spec == "folder":
        def folder(path: Path) -> str | None:
            parent = path.parent
            if parent.name.lower() in EMOTIONS:
                parent = parent.parent
            return parent.name or None
        return folder
    return _speaker_table(Path(spec))


def _speaker_table(csv_path: Path) -> Callable[[Path], str | None]:
    import csv

    from ser_img.errors import UsageError

    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if len(row) >= 2 and row[0].strip()]
    except FileNotFoundError:
        raise UsageError(f"{csv_path}: no such file (speakers come from their file names, their folders, "
                         "or a CSV of path,speaker rows)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{csv_path}: cannot read speakers ({exc})") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["path", "speaker"]:
        rows = rows[1:]
    if not rows:
        raise UsageError(f"{csv_path}: no path,speaker rows")
    by_path = {(csv_path.parent / row[0].strip()).resolve(): row[1].strip() for row in rows}
    by_name = {Path(row[0].strip()).name: row[1].strip() for row in rows}
    return lambda path: by_path.get(Path(path).resolve()) or by_name.get(Path(path).name)


def is_clip_list(path: Path) -> bool:
    """A CSV source names its clips (and their labels and speakers) instead of holding audio."""
    return Path(path).suffix.lower() == ".csv" and Path(path).is_file()


def read_clip_list(csv_path: Path) -> dict[Path, tuple[str, ClipInfo]]:
    """A corpus described by a CSV with a header row: `path` (relative to the CSV's folder, or
    absolute), `label` (one of EMOTIONS, or empty) and optionally `speaker`; other columns
    are ignored. Returns resolved path -> (path as written, ClipInfo)."""
    import csv

    from ser_img.errors import UsageError

    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "path" not in columns or "label" not in columns:
                raise UsageError(f"{csv_path}: a clip list needs a header row with path and label columns "
                                 "(and speaker), e.g. path,label,speaker")
            rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{csv_path}: cannot read clip list ({exc})") from None
    listed = {}
    for number, row in enumerate(rows, 2):
        label = row.get("label", "").lower()
        if label and label not in EMOTIONS:
            raise UsageError(f"{csv_path}, line {number}: unknown label {label!r}; use one of {', '.join(EMOTIONS)}")
        written = row.get("path", "")
        if written:
            info = ClipInfo(label=label or None, speaker=row.get("speaker") or None)
            listed[(csv_path.parent / written).resolve()] = (written, info)
    if not listed:
        raise UsageError(f"{csv_path}: no clips listed")
    return listed


def listed_clips(sources) -> dict[Path, ClipInfo]:
    """Labels and speakers of every clip named by the clip lists among `sources`."""
    listed = {}
    for source in sources:
        if is_clip_list(source):
            listed.update({path: info for path, (_, info) in read_clip_list(source).items()})
    return listed
