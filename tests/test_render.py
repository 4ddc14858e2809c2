import csv

import numpy as np
import pytest

from pipelines.render import render_folder
from ser_img.audio.decode import load_audio
from ser_img.errors import AudioError
from ser_img.corpus.manifest import read_settings
from ser_img.features.spectrogram import RenderSettings, read_png, render, trim_silence
from tests.conftest import TINY_RENDER


def _tone(seconds=1.0, sr=16000, freq=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_render_gives_the_configured_rgb_shape():
    image = render(_tone(), RenderSettings(height=64, width=96))
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8


def test_render_is_deterministic_and_content_dependent():
    settings = RenderSettings()
    assert np.array_equal(render(_tone(), settings), render(_tone(), settings))
    assert not np.array_equal(render(_tone(freq=220), settings), render(_tone(freq=880), settings))


def test_higher_pitch_shows_higher_in_the_image():
    """Low frequencies are at the bottom, as on any spectrogram plot."""
    def brightest_row(freq):
        return render(_tone(freq=freq), RenderSettings(colormap="gray"))[:, :, 0].mean(axis=1).argmax()

    assert brightest_row(2000) < brightest_row(200)


def test_silence_and_tiny_clips_render_without_error():
    settings = RenderSettings()
    flat = render(np.zeros(16000, np.float32), settings)
    assert flat.shape == (128, 128, 3) and np.ptp(flat[:, :, 0]) == 0
    assert render(_tone(0.01), settings).shape == (128, 128, 3)


def test_trim_removes_leading_and_trailing_silence():
    clip = np.concatenate([np.zeros(16000), _tone(1.0), np.zeros(16000)]).astype(np.float32)
    trimmed = trim_silence(clip, RenderSettings())
    assert 16000 <= len(trimmed) <= 16000 + 2 * 1024


def test_audio_is_mixed_to_mono_and_resampled(tmp_path):
    import soundfile

    stereo = np.stack([_tone(1.0, 44100), _tone(1.0, 44100)], axis=1)
    soundfile.write(tmp_path / "a.flac", stereo, 44100)
    audio = load_audio(tmp_path / "a.flac", 16000)
    assert audio.samples.ndim == 1 and abs(len(audio.samples) - 16000) <= 1
    assert audio.source_rate == 44100 and audio.duration_s == pytest.approx(1.0)


def test_unreadable_audio_names_the_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError, match="bad.wav: cannot decode"):
        load_audio(bad, 16000)
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav", 16000)


def test_manifest_lists_every_clip_with_labels_speakers_and_hashes(corpus, images):
    with open(images / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 48
    assert {row["status"] for row in rows} == {"ok"}
    assert {row["speaker"] for row in rows} == {"ravdess-01", "ravdess-02", "ravdess-03"}
    first = next(row for row in rows if row["source"].endswith("03-01-05-01-01-01-02.wav"))
    assert first["label"] == "angry" and first["image"] == "Actor_02/03-01-05-01-01-01-02.png"
    assert len(first["sha256"]) == 64 and float(first["duration_s"]) > 1.0
    assert read_settings(images) == TINY_RENDER


def test_saved_png_equals_the_in_memory_render(corpus, images):
    source = corpus / "Actor_01" / "03-01-03-01-01-01-01.wav"
    in_memory = render(load_audio(source, TINY_RENDER.sample_rate).samples, TINY_RENDER)
    assert np.array_equal(read_png(images / "Actor_01" / "03-01-03-01-01-01-01.png"), in_memory)


def test_rerender_skips_up_to_date_images_and_lists_bad_files(corpus, tmp_path):
    import shutil

    source = tmp_path / "audio"
    shutil.copytree(corpus / "Actor_01", source / "Actor_01")
    (source / "Actor_01" / "broken.wav").write_bytes(b"not audio at all")
    first = render_folder([source], tmp_path / "img", TINY_RENDER, workers=2)
    assert (first.rendered, first.skipped) == (16, 0)
    assert [s for s, _ in first.failures] == [str((source / "Actor_01" / "broken.wav").resolve())]
    second = render_folder([source], tmp_path / "img", TINY_RENDER, workers=1)
    assert (second.rendered, second.skipped, len(second.failures)) == (0, 16, 1)
    forced = render_folder([source], tmp_path / "img", TINY_RENDER, force=True, workers=1)
    assert forced.rendered == 16
    resized = render_folder([source], tmp_path / "img", RenderSettings(height=16, width=16), workers=1)
    assert resized.rendered == 16 and read_png(tmp_path / "img" / resized.rows[0].image).shape == (16, 16, 3)


@pytest.mark.parametrize("sample_rate, n_fft, n_mels, fmin, fmax", [(16000, 1024, 128, 50.0, 8000.0),
                                                                    (8000, 512, 40, 0.0, 4000.0)])
def test_mel_filterbank_equals_librosas(sample_rate, n_fft, n_mels, fmin, fmax):
    """Our NumPy filterbank (no numba at start-up) is librosa's default one."""
    import librosa

    from ser_img.audio.signal import mel_basis as _mel_basis

    ours = _mel_basis(sample_rate, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert np.allclose(ours, theirs, rtol=0, atol=1e-7)


def test_mix_copies_differ_from_the_clean_render_repeat_and_train_with_it(corpus, images, tmp_path):
    """`--channel mix`: every clip under its own drawn condition, the same again on a re-run,
    other conditions for another copy; the copies train beside the clean folder as the home
    corpus's speakers (their CNN learns from them too)."""
    from dataclasses import replace

    from pipelines.train import home_rows
    from ser_img.corpus.dataset import load_corpora
    from ser_img.features.extractors import read_features

    mix = replace(TINY_RENDER, channel="mix", condition_seed=1)
    for folder, settings in (("mix1", mix), ("again", mix), ("mix2", replace(mix, condition_seed=2))):
        report = render_folder([corpus], tmp_path / folder, settings, workers=1, babble_from=[corpus])
        assert report.rendered == 48 and not report.failures

    def features(folder):
        return {row.source: read_features(folder / row.image) for row in
                sorted((r for r in load_corpora([folder]).rows), key=lambda r: r.source)}

    clean, first, again, second = (features(f) for f in (images, tmp_path / "mix1", tmp_path / "again",
                                                          tmp_path / "mix2"))
    assert all(np.array_equal(first[s], again[s]) for s in first)
    assert sum(not np.allclose(first[s], clean[s], atol=1e-3) for s in first) >= 40
    assert sum(not np.allclose(first[s], second[s], atol=1e-3) for s in first) >= 40
    both = load_corpora([images, tmp_path / "mix1"])
    assert set(both.corpora) == {images.name, "mix1"} and home_rows(both).all()


def test_clips_rendered_as_a_group_equal_clips_rendered_alone_and_one_bad_spoils_none(tmp_path, monkeypatch):
    import pipelines.render as render_module
    from ser_img.errors import SerImgError
    from ser_img.features.extractors import read_features, render_inputs
    from tests.sounds import tone, write

    for i, seconds in enumerate((0.6, 0.9, 1.2)):
        write(tmp_path / "audio" / f"c{i}.wav", tone(seconds, freq=200.0 + 100 * i), 16000)
    (tmp_path / "audio" / "notes.wav").write_text("not audio")
    report = render_folder([tmp_path / "audio"], tmp_path / "img", TINY_RENDER, workers=1)  # one group of four
    assert report.rendered == 3 and [s.split("/")[-1] for s, _ in report.failures] == ["notes.wav"]
    for i in range(3):  # the group's batch gives each clip what rendering it alone gives
        alone = render_inputs(load_audio(tmp_path / "audio" / f"c{i}.wav", 16000).samples, TINY_RENDER)
        np.testing.assert_allclose(read_features(tmp_path / "img" / f"c{i}.png"), alone[1], atol=1e-5)
        assert np.array_equal(read_png(tmp_path / "img" / f"c{i}.png"), alone[0])

    def spoiled(signals, settings):
        raise SerImgError("one clip spoils the batch")

    def fails_for_the_middle_one(samples, settings):
        if len(samples) == int(0.9 * 16000):
            raise SerImgError("c1 cannot be rendered")
        return render_inputs(samples, settings)

    monkeypatch.setattr(render_module, "render_inputs_batch", spoiled)
    monkeypatch.setattr(render_module, "render_inputs", fails_for_the_middle_one)
    again = render_folder([tmp_path / "audio"], tmp_path / "again", TINY_RENDER, workers=1)
    assert again.rendered == 2 and "c1 cannot be rendered" in {e for _, e in again.failures}
