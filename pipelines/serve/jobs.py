"""The server's jobs: a request's upload received and scored on a worker thread within the
request's time limit, stopped at its next batch once the request times out or the server
stops, and its folder deleted whatever happens."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from concurrent.futures import Executor
from pathlib import Path

from ser_img.errors import AudioError, DecodeError, UsageError
from ser_img.recognizer import EmotionRecognizer

from .settings import ServeSettings
from .upload import RequestFailed, Upload, receive


class _Stopped(Exception):
    """A job told to stop: its request timed out, or the server is stopping."""


def recognize_upload(recognizer: EmotionRecognizer, upload: Upload, folder: Path, image: bool, explain: bool,
                     stop: threading.Event) -> dict | None:
    """Score the upload, then delete its folder, whatever happens (runs on a worker thread).

    Long audio is scored batch by batch; once `stop` is set the job ends at the next batch,
    so a request that timed out does not keep the cores busy for nobody.
    """
    def advance(seconds: float) -> None:
        if stop.is_set():
            raise _Stopped

    try:
        if upload.size == 0:
            raise RequestFailed(400, f"{upload.name}: empty upload")
        try:
            result = recognizer.predict(upload.path, image=image, explain=explain, advance=advance)
        except _Stopped:
            return None
        except (AudioError, UsageError) as exc:  # UsageError: --speakers channels on a one-channel upload
            message = str(exc).replace(str(upload.path), upload.name)
            raise RequestFailed(415 if isinstance(exc, DecodeError) else 422, message) from None
        result.source = upload.name
        return result.to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def capped(recognizer: EmotionRecognizer, settings: ServeSettings) -> EmotionRecognizer:
    """The recognizer with the server's cap on audio length; a copy, so the caller's is unchanged
    (it shares the model and its batching)."""
    cap, current = settings.max_duration_s, recognizer.options.max_duration_s
    return recognizer.with_options(max_duration_s=cap if current is None else min(current, cap))


class Jobs:
    """The uploads in flight: their folders and stop signals, so a stopping server ends the
    jobs and leaves nothing in the temporary folder."""

    def __init__(self):
        self._lock = threading.Lock()
        self._live: dict[Path, threading.Event] = {}

    def add(self, folder: Path) -> threading.Event:
        with self._lock:
            return self._live.setdefault(folder, threading.Event())

    def done(self, folder: Path) -> None:
        with self._lock:
            self._live.pop(folder, None)
        shutil.rmtree(folder, ignore_errors=True)

    def stop_all(self) -> None:
        with self._lock:
            live, self._live = dict(self._live), {}
        for folder, stop in live.items():
            stop.set()
            shutil.rmtree(folder, ignore_errors=True)


async def run_upload(request, recognizer: EmotionRecognizer, settings: ServeSettings, pool: Executor, jobs: Jobs,
                     image: bool, explain: bool) -> dict:
    """Receive the request's audio into a private folder and score it on `pool`, all within
    `settings.timeout_s`: 408 when the upload is not in by then, 504 when the answer is not."""
    deadline = asyncio.get_running_loop().time() + settings.timeout_s
    folder = Path(tempfile.mkdtemp(prefix="ser-img-upload-"))  # mode 0700: private to this user
    stop = jobs.add(folder)
    upload = Upload(folder, settings.max_upload_bytes)
    try:
        await asyncio.wait_for(receive(request, upload), settings.timeout_s)
    except BaseException as exc:
        upload.close()
        jobs.done(folder)
        if isinstance(exc, asyncio.TimeoutError):
            message = f"{upload.name}: upload not received within {settings.timeout_s:g} s"
            raise RequestFailed(408, message) from None
        raise
    upload.close()
    job = asyncio.get_running_loop().run_in_executor(pool, recognize_upload, recognizer, upload, folder, image,
                                                     explain, stop)
    job.add_done_callback(lambda _: jobs.done(folder))
    try:  # on timeout the job is told to stop; it ends at its next batch and removes the upload
        answer = await asyncio.wait_for(asyncio.shield(job), deadline - asyncio.get_running_loop().time())
    except asyncio.CancelledError:  # the server is stopping (or the client went away)
        stop.set()
        raise
    except asyncio.TimeoutError:
        stop.set()
        raise RequestFailed(504, f"{upload.name}: not scored within {settings.timeout_s:g} s") from None
    if answer is None:
        raise RequestFailed(503, f"{upload.name}: the server is stopping")
    return answer
