"""`ser-img serve`: an HTTP API and a web page over one loaded EmotionRecognizer.

  GET  /          the web page (plain HTML/JS, nothing fetched from elsewhere)
  POST /predict   an audio file (multipart field "file", or the raw request body) -> JSON
  GET  /health    liveness and the model's name
  GET  /model     model.json, metrics.json and MODEL_CARD.md when the model has one
  GET  /docs, /openapi.json                    the OpenAPI description

Uploads stream straight into a private temporary folder (mode 0700), are checked against
the size limit as they arrive and are deleted as soon as they are scored. Scoring runs on
a small thread pool, so requests are served in parallel; the recognizer lets one batch
into the model at a time. Every expected failure is a 4xx/5xx JSON body {"error": "..."}.
"""

import asyncio
import contextlib
import copy
import errno
import json
import logging
import shutil
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from ser_img import __version__
from ser_img.errors import AudioError, DecodeError, UsageError
from ser_img.recognizer import EmotionRecognizer, describe_model_dir

log = logging.getLogger("ser_img")
PAGE = Path(__file__).with_name("web") / "index.html"
MODEL_CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class ServeSettings:
    max_upload_bytes: int = 100 * 1024 * 1024
    timeout_s: float = 120.0
    workers: int = 4  # requests decoded and scored at once


class RequestFailed(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def model_card(model_dir: Path | None) -> dict:
    """What GET /model answers: the model's description, its metrics and its card."""
    def read(name: str):
        path = model_dir / name if model_dir is not None else None
        if path is None or not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        return text if name.endswith(".md") else json.loads(text)

    return {"model": read("model.json"), "metrics": read("metrics.json"), "model_card": read(MODEL_CARD)}


def _summary(card: dict) -> dict:
    """The model's measured accuracy and its weights' licence, for the web page's note."""
    from ser_img.card import weights_licence

    description = card["model"] or {}
    cv = description.get("cv") or {}
    return {"accuracy": cv.get("accuracy"), "speakers": len(description.get("speakers", [])),
            "licence": weights_licence(description.get("speakers", []), card["model_card"],
                                       description.get("corpora"))}


class _Upload:
    """Streams one request body into `folder`, holding at most `limit` bytes."""

    def __init__(self, folder: Path, limit: int):
        self.folder, self.limit = folder, limit
        self.path: Path | None = None
        self.name = "upload"
        self.size = 0
        self._handle = None

    def open(self, name: str | None) -> None:
        self.name = Path(name or "upload").name or "upload"
        self.path = self.folder / ("upload" + Path(self.name).suffix[:16])
        self._handle = open(self.path, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise RequestFailed(413, f"{self.name}: larger than the {_mib(self.limit)} upload limit")
        self._handle.write(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def _receive(request, upload: _Upload) -> None:
    """The audio of a request: multipart field "file" (as browsers send it) or the raw body."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        upload.open(request.query_params.get("filename"))
        async for chunk in request.stream():
            upload.write(chunk)
        return
    if b"boundary" not in params:
        raise RequestFailed(400, "multipart request without a boundary")
    part: dict = {}

    def header_field(data, start, end):
        part["field"] = part.get("field", b"") + data[start:end]

    def header_value(data, start, end):
        part["value"] = part.get("value", b"") + data[start:end]

    def header_end():
        if part.pop("field", b"").lower() == b"content-disposition":
            _, options = parse_options_header(part.get("value", b""))
            part["is_file"] = options.get(b"name") == b"file" and upload.path is None
            if part["is_file"]:
                upload.open(options.get(b"filename", b"upload").decode("utf-8", "replace"))
        part.pop("value", None)

    def part_data(data, start, end):
        if part.get("is_file"):
            upload.write(data[start:end])

    def part_end():
        part.clear()
        upload.close()

    parser = MultipartParser(params[b"boundary"], {
        "on_header_field": header_field, "on_header_value": header_value, "on_header_end": header_end,
        "on_part_data": part_data, "on_part_end": part_end})
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    if upload.path is None:
        raise RequestFailed(400, "no audio in the request: send it as the multipart field 'file' "
                                 "or as the request body")


def _mib(size: int) -> str:
    return f"{size / 2**20:.3g} MiB"


def _recognize(recognizer: EmotionRecognizer, upload: _Upload, folder: Path, image: bool, explain: bool) -> dict:
    """Score the upload, then delete its folder, whatever happens (runs on a worker thread)."""
    try:
        if upload.size == 0:
            raise RequestFailed(400, f"{upload.name}: empty upload")
        try:
            result = recognizer.predict(upload.path, image=image, explain=explain)
        except AudioError as exc:
            message = str(exc).replace(str(upload.path), upload.name)
            raise RequestFailed(415 if isinstance(exc, DecodeError) else 422, message) from None
        result.source = upload.name
        return result.to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_app(recognizer: EmotionRecognizer, settings: ServeSettings = ServeSettings()):
    card = model_card(recognizer.model_dir)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ser-img-predict")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="ser-img", version=__version__, lifespan=lifespan,
                  description="Speech emotion recognition: upload audio, get the emotion, its eight "
                              "probabilities and, for long recordings, a timeline.")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc):
        return error(422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))

    @app.exception_handler(RequestFailed)
    async def request_failed(request, exc):
        return error(exc.status, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request, exc):
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/health")
    def health():
        return {"status": "ok", "model": recognizer.model_info}

    summary = _summary(card)

    @app.get("/model")
    def model():
        return {**card, **recognizer.model_info, **summary, "window_s": recognizer.window_s, "hop_s": recognizer.hop_s}

    upload_body = {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}}}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}

    @app.post("/predict", openapi_extra=upload_body)
    async def predict(request: Request, image: bool = False, explain: bool = False):
        """The emotion of an uploaded recording: label, eight probabilities, timeline, model.

        `image=true` adds `spectrogram_png` (base64): the window the model looked at (for long
        audio, the one most typical of the overall label; `image_window` says which seconds).
        `explain=true` adds `explanation`: which regions of that image drove the decision,
        as a grid of probability drops and a PNG drawn over the image.
        """
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
            raise RequestFailed(413, f"request of {int(declared)} bytes is over the "
                                     f"{_mib(settings.max_upload_bytes)} upload limit")
        deadline = asyncio.get_running_loop().time() + settings.timeout_s
        folder = Path(tempfile.mkdtemp(prefix="ser-img-upload-"))  # mode 0700: private to this user
        upload = _Upload(folder, settings.max_upload_bytes)
        try:
            await asyncio.wait_for(_receive(request, upload), settings.timeout_s)
        except BaseException as exc:
            upload.close()
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, asyncio.TimeoutError):
                message = f"{upload.name}: upload not received within {settings.timeout_s:g} s"
                raise RequestFailed(408, message) from None
            raise
        upload.close()
        job = asyncio.get_running_loop().run_in_executor(pool, _recognize, recognizer, upload, folder, image,
                                                         explain)
        try:  # on timeout the job still runs to its end and removes the upload
            return await asyncio.wait_for(asyncio.shield(job), deadline - asyncio.get_running_loop().time())
        except asyncio.TimeoutError:
            raise RequestFailed(504, f"{upload.name}: not scored within {settings.timeout_s:g} s") from None

    return app


def load_app(model_dir: Path | None, settings: ServeSettings = ServeSettings()):
    recognizer = EmotionRecognizer.load(model_dir)
    log.info("model: %s", describe_model_dir(recognizer.model_dir))
    return create_app(recognizer, settings)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a usage error in one line when the address cannot be had."""
    if not 0 <= port <= 65535:
        raise UsageError(f"port {port} is not between 0 and 65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise UsageError(f"{host}:{port}: cannot listen there ({exc.strerror or exc})") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"{host}:{port}: address already in use (another server? choose another --port)") from None
        raise UsageError(f"{host}:{port}: cannot listen there ({exc.strerror or exc})") from None
    return listener


def serve(model_dir: Path | None, host: str = "127.0.0.1", port: int = 8000,
          settings: ServeSettings = ServeSettings()) -> None:
    """Load the model once and serve until interrupted; every log line, access log included, on stderr."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    listener = bind(host, port)  # before the model loads: a taken port fails at once
    app = load_app(model_dir, settings)
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()  # the CLI's -v/-q
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(app, log_level=level, log_config=log_config, timeout_graceful_shutdown=5)
    log.info("serving on http://%s:%d/ (Ctrl-C stops)", host if ":" not in host else f"[{host}]",
             listener.getsockname()[1])
    uvicorn.Server(config).run(sockets=[listener])


class BackgroundServer:
    """Serve an app on a loopback port from a thread (tests and benchmarks)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
