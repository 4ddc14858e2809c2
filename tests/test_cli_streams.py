"""`predict` on input that can be read only once: a FIFO, `<(cat f.wav)`, `-` for standard input."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

CLIP = Path("Actor_02") / "03-01-05-01-01-01-02.wav"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_predict_reads_a_fifo_once(stack_model, recognizer, corpus, tmp_path):
    fifo = tmp_path / "talk.wav"
    os.mkfifo(fifo)
    data = (corpus / CLIP).read_bytes()

    def writer():
        with open(fifo, "wb") as handle:  # blocks until the reader opens it; a second open would hang
            handle.write(data)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result = CliRunner().invoke(main, ["predict", "--model", str(stack_model), "--json", str(fifo)])
    thread.join(5)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["source"] == str(fifo)
    assert record["label"] == recognizer.predict(corpus / CLIP).label


def test_predict_reads_standard_input_as_dash(stack_model, recognizer, corpus):
    result = CliRunner().invoke(main, ["predict", "--model", str(stack_model), "--json", "-"],
                                input=(corpus / CLIP).read_bytes())
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["source"] == "-" and record["label"] == recognizer.predict(corpus / CLIP).label


def test_process_substitution_is_not_no_such_file(stack_model, corpus):
    # `<(cat f.wav)` is /dev/fd/N: a pipe whose resolved path names no file.
    if not Path("/dev/fd").is_dir():
        pytest.skip("no /dev/fd on this system")
    read, write = os.pipe()
    data = (corpus / CLIP).read_bytes()
    script = ("import sys; sys.argv = ['ser-img', 'predict', '--model', sys.argv[1], '--json', sys.argv[2]]; "
              "import cli; cli.main()")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", script, str(stack_model), f"/dev/fd/{read}"],
                               pass_fds=(read,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.close(read)
    with os.fdopen(write, "wb") as handle:
        handle.write(data)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)[0]["label"] is not None
