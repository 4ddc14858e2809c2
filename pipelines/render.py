"""Render audio files to spectrogram PNGs with a manifest, in parallel and incrementally."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ser_img.audio.decode import load_audio
from ser_img.audio.channel import apply_channel
from ser_img.audio.conditions import training_copy
from ser_img.errors import SerImgError, UsageError
from ser_img.corpus.files import find_audio
from ser_img.ensemble.folds import MIN_SPEAKERS
from ser_img.labels import ClipInfo, clip_info, listed_clips, speaker_lookup
from ser_img.corpus.manifest import (
    MANIFEST_NAME,
    ManifestRow,
    read_manifest,
    read_settings,
    write_manifest,
    write_settings,
)
from ser_img.features.extractors import feature_path, render_inputs, render_inputs_batch, write_features
from ser_img.features.spectrogram import RenderSettings, write_png
from ser_img.runtime.files import remove_stale_temporaries, sha256_file

from ser_img.runtime.parallel import run_parallel

from . import Progress, no_progress

log = logging.getLogger("ser_img")
SPEAKER_HINT = ("give each clip its speaker with 'ser-img render --speaker-from folder' "
                "(or --speaker-from speakers.csv, rows of path,speaker)")
# Rendered rows between manifest checkpoints: a killed run loses at most this many clips' work.
CHECKPOINT_EVERY = 100
RENDER_GROUP = 8  # clips a worker renders together (as predict's workers do)


@dataclass
class RenderReport:
    out_dir: Path
    rows: list[ManifestRow]
    rendered: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


# Clips the babble of a "mix" render is drawn from: enough talkers for variety, few enough
# that every worker decodes them once in a second or two.
BABBLE_CLIPS = 48


def render_clips(jobs: list[tuple]) -> list[ManifestRow]:
    """Render a group of clips (jobs of `render_folder`, one settings and babble for all): each
    decoded on its own, then those decoded rendered together, since the encoders cost a
    quarter less a clip over a batch than one by one (`predict`'s workers batch them alike).
    A failure is its clip's row with the reason; the others are rendered all the same."""
    rows, decoded = [], []
    for source, image_path, image_rel, settings, info, babble in jobs:
        row = _new_row(source, info)
        rows.append(row)
        samples = _guarded(row, lambda: _decoded(row, source, settings, babble))
        if samples is not None:
            decoded.append((row, image_path, image_rel, samples))
    if decoded:
        settings = jobs[0][3]
        try:
            rendered = render_inputs_batch([samples for *_, samples in decoded], settings)
        except SerImgError:  # one clip spoils the batch: each on its own, to say which
            rendered = [_guarded(row, lambda s=samples: render_inputs(s, settings)) for row, *_, samples in decoded]
        for (row, image_path, image_rel, _), inputs in zip(decoded, rendered):
            if inputs is not None and _guarded(row, lambda: _write(image_path, *inputs)) is not None:
                row.image, row.status = image_rel, "ok"
    return rows


def _new_row(source: Path, info: ClipInfo | None) -> ManifestRow:
    """A clip's manifest row before rendering: what its name (or its clip list, `info`) says."""
    info = info or clip_info(source)
    return ManifestRow(
        source=str(source), image="", label=info.label or "", speaker=info.speaker or "",
        intensity=_text(info.intensity), statement=_text(info.statement),
        repetition=_text(info.repetition), duration_s="", sample_rate="", size_bytes="",
        mtime_ns="", sha256="", status="failed", error="",
    )


def _decoded(row: ManifestRow, source: Path, settings: RenderSettings, babble: tuple[Path, ...]):
    """The clip's samples through the settings' channel; the row learns the file's particulars."""
    stat = source.stat()
    audio = load_audio(source, settings.sample_rate)
    row.size_bytes, row.mtime_ns, row.sha256 = str(stat.st_size), str(stat.st_mtime_ns), sha256_file(source)
    row.duration_s, row.sample_rate = f"{audio.duration_s:.3f}", str(audio.source_rate)
    return recorded(audio.samples, Path(source).name, settings, babble)


def _write(image_path: Path, image, features) -> bool:
    write_features(image_path, features)  # descriptors first: an image on disk means its clip is complete
    write_png(image_path, image)
    return True


def _guarded(row: ManifestRow, step):
    """step(), or None with the reason in the row when it fails as a file can."""
    try:
        return step()
    except SerImgError as exc:
        row.error = str(exc)
    except FileNotFoundError:
        row.error = f"{row.source}: no such file"  # in load_audio's words
    except OSError as exc:
        row.error = f"{row.source}: {exc.strerror or exc}"
    return None


def recorded(samples, name: str, settings: RenderSettings, babble: tuple[Path, ...] = ()):
    """The clip through the settings' simulated channel; "mix" draws its condition from the
    settings' condition seed and the clip's file name, so that a re-run repeats it."""
    if settings.channel != "mix":
        return apply_channel(samples, settings.sample_rate, settings.channel)
    seed = (settings.condition_seed, zlib.crc32(name.encode()))
    return training_copy(samples, settings.sample_rate, seed, _babble_pool(babble, settings.sample_rate))[0]


@functools.lru_cache(maxsize=1)
def _babble_pool(paths: tuple[Path, ...], rate: int) -> tuple:
    """The babble talkers' clips, decoded once per worker process."""
    return tuple(load_audio(path, rate).samples for path in paths)


def babble_files(sources: list[Path]) -> tuple[Path, ...]:
    """`BABBLE_CLIPS` audio files spread evenly over `sources` (other talkers, ideally other
    corpora and languages than the clips they will be mixed into)."""
    found = [path for path, _ in find_audio(sources)]
    if not found:
        raise UsageError(f"no audio files for babble in {', '.join(map(str, sources))}")
    step = max(1, len(found) // BABBLE_CLIPS)
    return tuple(found[::step][:BABBLE_CLIPS])


def _text(value) -> str:
    return "" if value is None else str(value)


def _groups(jobs: list, workers: int | None) -> list[list]:
    """The jobs in groups of up to RENDER_GROUP, smaller when there are too few to keep every
    worker busy."""
    share = math.ceil(len(jobs) / max(1, workers or os.cpu_count() or 1))
    size = max(1, min(RENDER_GROUP, share))
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def _is_current(previous: ManifestRow | None, source: Path, out_dir: Path) -> bool:
    if previous is None or previous.status != "ok" or not (out_dir / previous.image).is_file():
        return False
    if not feature_path(out_dir / previous.image).is_file():
        return False
    try:
        stat = source.stat()
    except OSError:
        return False
    return previous.size_bytes == str(stat.st_size) and previous.mtime_ns == str(stat.st_mtime_ns)


def _image_names(found: list[tuple[Path, Path]], taken: dict[str, str]) -> list[str]:
    """Image path per source: its relative path as .png, made unique if two sources clash."""
    names = []
    for source, relative in found:
        name = relative.with_suffix(".png").as_posix()
        if taken.get(name, str(source)) != str(source):
            tag = hashlib.sha1(str(source).encode()).hexdigest()[:8]
            name = relative.with_name(f"{relative.stem}-{tag}.png").as_posix()
        taken[name] = str(source)
        names.append(name)
    return names


def render_folder(
    sources: list[Path],
    out_dir: Path,
    settings: RenderSettings | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: Progress = no_progress,
    speaker_from: str = "name",
    run=None,
    babble_from: list[Path] = (),
) -> RenderReport:
    """Render every audio file under `sources` into `out_dir` and (re)write its manifest.

    `speaker_from` says who speaks in each file: "name", "folder" or a CSV (`speaker_lookup`).
    `babble_from`: audio whose talkers make the babble of a "mix" channel (none: no babble).
    `run(function, jobs, workers)` yields function(job) for every job, in any order;
    by default `run_parallel` on this machine's cores (pipelines.cluster passes a Dask one).
    """
    run = run or run_parallel
    out_dir = Path(out_dir)
    speaker_of = speaker_lookup(speaker_from)  # a bad CSV fails before anything is rendered
    settings = settings or RenderSettings()
    found = find_audio(sources)
    listed = listed_clips(sources)
    if not found:
        raise UsageError(f"no audio files found in {', '.join(map(str, sources))}")
    babble = babble_files(list(babble_from)) if babble_from and settings.channel == "mix" else ()
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # one render into a folder at a time
    previous_settings = read_settings(out_dir)
    previous = {r.source: r for r in read_manifest(out_dir)} if (out_dir / MANIFEST_NAME).exists() else {}
    if previous_settings is not None and previous_settings != settings:
        log.info("render settings differ from those in %s: re-rendering every clip", out_dir)
        force, previous = True, {}
        # Emptied before the new settings are written, so that a killed run can never
        # leave old-settings rows beside settings that claim otherwise.
        write_manifest(out_dir, [])
    write_settings(out_dir, settings)

    taken = {r.image: r.source for r in previous.values() if r.image}
    report = RenderReport(out_dir=out_dir, rows=[])
    jobs = []
    for (source, _), image_rel in zip(found, _image_names(found, taken)):
        earlier = previous.pop(str(source), None)
        if not force and _is_current(earlier, source, out_dir):
            report.rows.append(earlier)
            report.skipped += 1
        else:
            jobs.append((source, out_dir / image_rel, image_rel, settings, listed.get(source), babble))
    report.rows.extend(previous.values())  # clips rendered by earlier runs from other sources

    try:
        groups = _groups(jobs, workers)
        rendered = (row for rows in run(render_clips, groups, workers) for row in rows)
        for done, row in enumerate(progress(rendered, len(jobs), "rendering"), 1):
            report.rows.append(row)
            if row.status == "ok":
                report.rendered += 1
            else:
                report.failures.append((row.source, row.error))
            if done % CHECKPOINT_EVERY == 0:
                write_manifest(out_dir, report.rows)  # a re-run after a kill resumes from here
    finally:
        if speaker_from != "name":
            sources_here = {str(source) for source, _ in found}
            for row in report.rows:
                if row.source in sources_here:
                    row.speaker = speaker_of(Path(row.source)) or ""
        write_manifest(out_dir, report.rows)  # on Ctrl-C too: what was rendered is kept
    _hint_about_training(report.rows)
    return report


def _hint_about_training(rows: list[ManifestRow]) -> None:
    """Say now, not at training time, what is missing for training on these clips."""
    ok = [r for r in rows if r.status == "ok"]
    labelled = [r for r in ok if r.label]
    if ok and not labelled:
        log.info("none of these clips has an emotion label (from corpus names or an emotion-named folder "
                 "such as my_data/angry/x.wav): they can be predicted, not trained on")
    elif labelled and len({r.speaker for r in labelled}) < MIN_SPEAKERS:
        speakers = sorted({r.speaker or "unknown" for r in labelled})
        log.info("the labelled clips come from %d speaker(s) (%s); training needs %d: %s",
                 len(speakers), ", ".join(speakers), MIN_SPEAKERS, SPEAKER_HINT)
