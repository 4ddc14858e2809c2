"""Finding audio, the render manifest, labelled image folders and synthetic voices (ser_img.corpus)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ser_img.corpus.dataset import UNKNOWN_SPEAKER, load_corpora, load_labelled_images
from ser_img.corpus.files import find_audio
from ser_img.corpus.manifest import (
    COLUMNS,
    MANIFEST_NAME,
    ManifestRow,
    read_manifest,
    read_settings,
    write_manifest,
    write_settings,
)
from ser_img.corpus.synth import MARKER, generate_corpus, synth_clip
from ser_img.errors import UsageError
from ser_img.features.extractors import feature_blocks, write_features
from ser_img.features.spectrogram import RenderSettings, write_png
from ser_img.labels import EMOTIONS, clip_info

TINY = RenderSettings(height=8, width=8, encoder_layer=0)


def test_find_audio_searches_folders_and_keeps_what_was_named(tmp_path):
    for name in ["b/2.wav", "b/1.FLAC", "b/notes.txt", "a.mp3"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    named = tmp_path / "b" / "notes.txt"
    found = find_audio([tmp_path / "b", named, tmp_path / "b" / "2.wav", tmp_path / "missing.wav", Path("-")])
    assert [(p.name, str(r)) for p, r in found] == [
        ("1.FLAC", "1.FLAC"), ("2.wav", "2.wav"), ("notes.txt", "notes.txt"),  # named directly: taken
        ("missing.wav", "missing.wav"), ("-", "-")]  # 2.wav once; a missing file is reported later
    assert all(p.is_absolute() for p, _ in found[:-1])
    repeated = []
    assert find_audio([tmp_path / "b", named, tmp_path / "b" / "2.wav"], repeated) == found[:3]
    assert repeated == [(tmp_path / "b" / "2.wav").resolve()]  # found in the folder, then named


def _row(source, image="", label="", speaker="", status="ok"):
    return ManifestRow(source, image, label, speaker, "", "", "", "1.0", "16000", "1", "1", "ab", status, "")


def test_manifest_round_trips_sorted_by_source(tmp_path):
    rows = [_row("/z.wav", "z.png", "sad", "s1"), _row("/a.wav", "", "", "", "failed")]
    path = write_manifest(tmp_path, rows)
    assert path == tmp_path / MANIFEST_NAME
    assert read_manifest(tmp_path) == sorted(rows, key=lambda r: r.source)
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)


def test_a_missing_or_foreign_manifest_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no manifest"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("source,image\n/a.wav,a.png\n")
    with pytest.raises(UsageError, match="not a ser-img manifest"):
        read_manifest(tmp_path)


def test_render_settings_round_trip_and_bad_ones_are_refused(tmp_path):
    assert read_settings(tmp_path) is None
    write_settings(tmp_path, TINY)
    assert read_settings(tmp_path) == TINY
    (tmp_path / "render_settings.json").write_text('{"colour": "red"}')
    with pytest.raises(UsageError, match="unreadable render settings|unknown render settings"):
        read_settings(tmp_path)


def _rendered(folder: Path, clips: list[tuple[str, str]], settings=TINY) -> Path:
    """A folder as `render` leaves it: settings, manifest, one image and feature file per clip."""
    size = feature_blocks(settings)["desc"].stop
    rows = []
    for i, (label, speaker) in enumerate(clips):
        write_png(folder / f"{i}.png", np.full((settings.height, settings.width, 3), i, np.uint8))
        write_features(folder / f"{i}.png", np.full(size, i, np.float32))
        rows.append(_row(f"/{i}.wav", f"{i}.png", label, speaker))
    write_manifest(folder, rows)
    write_settings(folder, settings)
    return folder


def test_labelled_images_are_the_rendered_clips_with_a_label(tmp_path):
    folder = _rendered(tmp_path / "corpus", [("angry", "s1"), ("", "s1"), ("calm", "")])
    data = load_labelled_images(folder)
    assert data.images.shape == (2, 8, 8, 3) and data.images[1, 0, 0, 0] == 2
    assert data.features[:, 0].tolist() == [0, 2]
    assert [EMOTIONS[i] for i in data.labels] == ["angry", "calm"]
    assert data.speakers == ["s1", UNKNOWN_SPEAKER] and data.unlabelled == 1
    assert not load_labelled_images(folder, with_images=False).images.any()


def test_a_folder_without_labels_or_render_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        load_labelled_images(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no render_settings.json"):
        load_labelled_images(tmp_path / "empty")
    with pytest.raises(UsageError, match="has an emotion label"):
        load_labelled_images(_rendered(tmp_path / "unlabelled", [("", "s1")]))


def test_corpora_are_named_after_their_folders_and_must_render_alike(tmp_path):
    one = _rendered(tmp_path / "one", [("sad", "a"), ("happy", "b")])
    two = _rendered(tmp_path / "two", [("sad", "c")], replace(TINY, channel="telephone"))
    data = load_corpora([one, two])
    assert data.corpora.tolist() == ["one", "one", "two"] and len(data.images) == 3
    assert load_corpora([one]).corpora.tolist() == ["one", "one"]
    with pytest.raises(UsageError, match="share a name"):
        load_corpora([one, _rendered(tmp_path / "x" / "one", [("sad", "d")])])
    other = _rendered(tmp_path / "three", [("sad", "e")], replace(TINY, trim_db=30.0))
    with pytest.raises(UsageError, match="other settings"):
        load_corpora([one, other])


def test_synthetic_clips_are_reproducible_and_differ_by_emotion():
    clip = synth_clip("angry", 2, 1, 3, np.random.default_rng(5), 16000)
    again = synth_clip("angry", 2, 1, 3, np.random.default_rng(5), 16000)
    sad = synth_clip("sad", 2, 1, 3, np.random.default_rng(5), 16000)
    np.testing.assert_array_equal(clip, again)
    assert clip.dtype == np.float32 and np.abs(clip).max() <= 1.0 and 0.5 < len(clip) / 16000 < 5
    assert len(clip) != len(sad) or not np.allclose(clip, sad)


def test_a_synthetic_corpus_has_ravdess_names_and_its_marker(tmp_path):
    paths = generate_corpus(tmp_path, actors=[2], statements=(1,), sample_rate=8000)
    assert len(paths) == len(EMOTIONS) and (tmp_path / MARKER).is_file()
    infos = [clip_info(p) for p in paths]
    assert [i.label for i in infos] == list(EMOTIONS)
    assert {i.speaker for i in infos} == {"ravdess-02"}
