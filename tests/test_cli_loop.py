"""Issue 25, item 7: a shell loop of `ser-img predict FILE --speakers 2 --json -q` once wrote
empty stdout with exit 0 for three of twelve files. Not reproduced (36 runs in a row and 24
four at a time over twelve files: every one printed its record); this runs such a loop, each
file in a fresh process as a shell loop does, and holds every run to one JSON record on
stdout with an exit status that matches it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ser_img.store.load import PACKAGED_MODEL

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "ser_img" / "examples").glob("*.flac"))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    """Three RAVDESS clips, a two-voice synthetic conversation and three seconds of silence."""
    from tests.test_conversations import RATE, conversation

    folder = tmp_path_factory.mktemp("loop")
    clips, _ = conversation([1, 2], 4, seed=3)
    soundfile.write(str(folder / "talk.wav"), np.concatenate(clips), RATE, subtype="PCM_16")
    soundfile.write(str(folder / "silence.wav"), np.zeros(3 * RATE, np.float32), RATE, subtype="PCM_16")
    return [*EXAMPLES[:3], folder / "talk.wav", folder / "silence.wav"]


def test_every_run_of_a_predict_loop_prints_one_json_record(files, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]
    runs = []
    for path in files:
        done = subprocess.run([*command, "predict", str(path), "--model", str(PACKAGED_MODEL), "--speakers", "2",
                               "--json", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        runs.append((path, done))
    for path, done in runs:
        assert done.stdout.strip(), f"{path.name}: empty stdout, exit {done.returncode}, stderr {done.stderr!r}"
        records = json.loads(done.stdout)
        assert isinstance(records, list) and len(records) == 1, (path.name, done.stdout)
        record = records[0]
        assert Path(record["source"]).name == path.name
        # a judged file exits 0 and a failed one does not; "too short" and "no speech" take the
        # exit status item 1 of the issue settles, so it is not pinned here
        if record["outcome"] == "emotion":
            assert done.returncode == 0, (path.name, done.stderr)
        elif record["outcome"] == "error":
            assert done.returncode != 0, (path.name, done.stderr)
    judged = {path.name: done for path, done in runs if json.loads(done.stdout)[0]["outcome"] == "emotion"}
    assert set(judged) >= {p.name for p in EXAMPLES[:3]}  # real speech is judged, whatever the loop does
    for done in judged.values():
        assert json.loads(done.stdout)[0]["speakers"] is not None  # --speakers 2 answered per speaker
