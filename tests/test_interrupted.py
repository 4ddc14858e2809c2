"""Nothing lost: a killed or interrupted render leaves no broken file, and a re-run finishes it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from pipelines.render import render_folder
from ser_img.corpus.manifest import read_manifest
from tests.conftest import TINY_RENDER
from tests.sounds import tone, write

ROOT = Path(__file__).resolve().parents[1]
CLIPS = 60
HELD = 30  # the image whose write the child holds open until it is killed
# Render in a child process that stops inside the write of image HELD (its data written
# to the temporary file, not yet renamed) and says so by touching a marker file; the
# manifest is checkpointed every 10 clips so that the re-run has something to resume.
RENDER_AND_HOLD = """
import os, sys, time
from pathlib import Path
import pipelines.render as job
from tests.conftest import TINY_RENDER

job.CHECKPOINT_EVERY = 10
state = {"images": 0}
write_png, fsync = job.write_png, os.fsync

def counting_write_png(path, rgb):
    state["images"] += 1
    write_png(path, rgb)

def holding_fsync(fd):
    if state["images"] == %d:
        Path(sys.argv[3]).touch()
        time.sleep(600)
    fsync(fd)

job.write_png, os.fsync = counting_write_png, holding_fsync
job.render_folder([Path(sys.argv[1])], Path(sys.argv[2]), TINY_RENDER, workers=1)
""" % HELD


def _pngs(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}


def _assert_every_png_decodes(folder: Path) -> None:
    for name in _pngs(folder):
        with Image.open(folder / name) as image:
            image.load()  # raises on a truncated or corrupt file
            assert image.size == (TINY_RENDER.width, TINY_RENDER.height)


def _kill_when(process: subprocess.Popen, marker: Path, stderr: Path) -> None:
    deadline = time.monotonic() + 120  # a generous bound, not a timing assertion
    while not marker.exists():
        assert process.poll() is None, f"render ended before it could be killed: {stderr.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "render made no progress"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_render_killed_mid_write_leaves_no_broken_file_and_a_rerun_finishes_the_job(tmp_path):
    audio, out, marker = tmp_path / "audio", tmp_path / "img", tmp_path / "holding"
    for i in range(CLIPS):
        write(audio / f"s{i % 3}" / f"clip{i:03d}.wav", tone(0.3, 16000, 200.0 + 10 * i), 16000)
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-c", RENDER_AND_HOLD, str(audio), str(out), str(marker)],
                                   cwd=ROOT, stderr=stderr)
    _kill_when(process, marker, tmp_path / "stderr.txt")
    assert process.returncode == -signal.SIGKILL

    (temporary,) = out.rglob("*.tmp")  # the held image, written but never renamed
    final = temporary.with_name(temporary.name[1:].rsplit(".", 2)[0])  # .NAME.png.PID.tmp -> NAME.png
    assert final.suffix == ".png" and temporary.stat().st_size > 0 and not final.exists()
    assert len(_pngs(out)) == HELD - 1
    _assert_every_png_decodes(out)
    checkpoint = read_manifest(out)  # the last checkpoint: whole, and true to the images
    assert len(checkpoint) == 20 and all((out / row.image).is_file() for row in checkpoint)

    report = render_folder([audio], out, TINY_RENDER, workers=1)
    assert (report.skipped, report.rendered, report.failures) == (20, CLIPS - 20, [])
    rows = read_manifest(out)
    assert len(rows) == CLIPS and {row.status for row in rows} == {"ok"}
    assert {row.image for row in rows} == _pngs(out)
    assert not list(out.rglob("*.tmp"))
    _assert_every_png_decodes(out)


def test_changed_settings_empty_the_manifest_before_anything_is_rendered(tmp_path):
    """A run killed after a settings change must not leave old rows under the new settings."""
    from dataclasses import replace

    from ser_img.corpus.manifest import read_settings

    write(tmp_path / "audio" / "a.wav", tone(0.3), 16000)
    render_folder([tmp_path / "audio"], tmp_path / "img", TINY_RENDER, workers=1)
    bigger = replace(TINY_RENDER, height=48, width=48)
    seen = []

    def stop(*args):
        seen.append((read_settings(tmp_path / "img"), read_manifest(tmp_path / "img")))
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipelines.render.render_clips", stop)
        with pytest.raises(KeyboardInterrupt):
            render_folder([tmp_path / "audio"], tmp_path / "img", bigger, workers=1)
    assert seen == [(bigger, [])]


def test_interrupted_render_keeps_what_it_rendered(tmp_path, monkeypatch):
    import pipelines.render

    for i in range(5):
        write(tmp_path / "audio" / f"c{i}.wav", tone(0.3), 16000)
    real, calls = pipelines.render.render_clips, []

    def interrupt_the_second_group(jobs):
        calls.append(jobs)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(jobs)

    monkeypatch.setattr(pipelines.render, "RENDER_GROUP", 2)  # groups c0 c1, c2 c3, c4
    monkeypatch.setattr(pipelines.render, "render_clips", interrupt_the_second_group)
    with pytest.raises(KeyboardInterrupt):
        render_folder([tmp_path / "audio"], tmp_path / "img", TINY_RENDER, workers=1)
    assert sorted(Path(row.source).name for row in read_manifest(tmp_path / "img")) == ["c0.wav", "c1.wav"]
