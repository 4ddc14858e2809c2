"""`ser-img serve`: an HTTP API and a web page over one loaded EmotionRecognizer.

  GET  /          the web page (plain HTML/JS, nothing fetched from elsewhere)
  POST /predict   an audio file (multipart field "file", or the raw request body) -> JSON
  GET  /health    liveness and the model's name
  GET  /model     model.json, metrics.json and MODEL_CARD.md when the model has one
  GET  /docs, /openapi.json                    the OpenAPI description

Uploads stream straight into a private temporary folder (mode 0700), are checked against
the size limit as they arrive and are deleted as soon as they are scored (and, should the
server stop first, when it stops). Scoring runs on a small thread pool, so requests are
served in parallel; the recognizer lets one batch into the model at a time, and a job
past its deadline stops at its next batch. Every expected failure is a 4xx/5xx JSON body
{"error": "..."} and one access-log line. Requests from other web pages (another Origin)
and for other host names (DNS rebinding) are refused unless allowed by name.
"""

import asyncio
import contextlib
import copy
import errno
import json
import logging
import re
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
from ser_img.conversation.speakers import parse_speakers
from ser_img.recognizer import EmotionRecognizer, describe_model_dir

log = logging.getLogger("ser_img")
PAGE = Path(__file__).with_name("web") / "index.html"
MODEL_CARD = "MODEL_CARD.md"


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServeSettings:
    max_upload_bytes: int = 100 * 1024 * 1024
    timeout_s: float = 120.0
    workers: int = 4  # requests decoded and scored at once
    max_duration_s: float = 600.0  # longer audio is refused before it is decoded
    allowed_origins: tuple[str, ...] = ()  # web pages (scheme://host[:port]) allowed to call the API
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS  # Host header names accepted; None: any


def allowed_hosts_for(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Host names a server bound to `host` answers to: itself, and loopback names when it is
    loopback. Bound to every address, it cannot know its names, so any Host is accepted."""
    if host in WILDCARD_HOSTS:
        return None
    loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
    return tuple(dict.fromkeys((host, *(LOOPBACK_HOSTS if loopback else ()), *extra)))


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
    from ser_img.store.card import weights_licence

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
        self.name = _safe_name(name)
        self.path = self.folder / ("upload" + re.sub(r"[^A-Za-z0-9.]", "", Path(self.name).suffix)[:16])
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


def _safe_name(name: str | None) -> str:
    """The client's file name as answers show it: its last part, no control characters, at most
    255 characters (the rest of the name is the client's business, and never a path here)."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", (name or "").replace("\\", "/")).rsplit("/", 1)[-1].strip()
    if len(name) > 255:
        suffix = Path(name).suffix[:16]
        name = name[: 255 - len(suffix) - 1] + "…" + suffix
    return name if name not in ("", ".", "..") else "upload"


async def _receive(request, upload: _Upload) -> None:
    """The audio of a request: multipart field "file" (as browsers send it) or the raw body."""
    from python_multipart.exceptions import MultipartParseError
    from starlette.requests import ClientDisconnect

    try:
        await _receive_body(request, upload)
    except MultipartParseError as exc:
        raise RequestFailed(400, f"malformed multipart request ({exc})") from None
    except ClientDisconnect:
        raise RequestFailed(400, f"{upload.name}: upload cut short (the client went away)") from None


async def _receive_body(request, upload: _Upload) -> None:
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
    complete = []  # the closing boundary was seen: the body is whole

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
        "on_part_data": part_data, "on_part_end": part_end, "on_end": lambda: complete.append(True)})
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    if not complete:  # python-multipart's finalize() does not check this itself
        raise RequestFailed(400, f"{upload.name}: multipart body cut short (no closing boundary); "
                                 "nothing was scored")
    if upload.path is None:
        raise RequestFailed(400, "no audio in the request: send it as the multipart field 'file' "
                                 "or as the request body")


def _mib(size: int) -> str:
    return f"{size / 2**20:.3g} MiB"


class _Stopped(Exception):
    """A job told to stop: its request timed out, or the server is stopping."""


def _recognize(recognizer: EmotionRecognizer, upload: _Upload, folder: Path, image: bool, explain: bool,
               stop: threading.Event, speakers: str | int | None = None) -> dict | None:
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
            result = recognizer.predict(upload.path, image=image, explain=explain, advance=advance,
                                        speakers=speakers)
        except _Stopped:
            return None
        except (AudioError, UsageError) as exc:  # UsageError: --speakers channels on a one-channel upload
            message = str(exc).replace(str(upload.path), upload.name)
            raise RequestFailed(415 if isinstance(exc, DecodeError) else 422, message) from None
        result.source = upload.name
        return result.to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _capped(recognizer: EmotionRecognizer, max_duration_s: float) -> EmotionRecognizer:
    """The recognizer with the server's cap on audio length; a copy, so the caller's is unchanged
    (it shares the model and its batching)."""
    current = recognizer.options.max_duration_s
    return recognizer.with_options(max_duration_s=max_duration_s if current is None else min(current, max_duration_s))


class _Jobs:
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


def create_app(recognizer: EmotionRecognizer, settings: ServeSettings = ServeSettings()):
    card = model_card(recognizer.model_dir)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ser-img-predict")
    jobs = _Jobs()
    # python-multipart logs a warning for every malformed body it sees: the 4xx and its
    # access-log line say it already.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    recognizer = _capped(recognizer, settings.max_duration_s)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.stop_all()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="ser-img", version=__version__, lifespan=lifespan,
                  description="Speech emotion recognition: upload audio, get the emotion, its eight "
                              "probabilities and, for long recordings, a timeline.")
    app.state.stop_jobs = jobs.stop_all  # serve() calls it too, however the server ends
    app.add_middleware(_Guard, allowed_hosts=settings.allowed_hosts, allowed_origins=settings.allowed_origins)

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
    async def predict(request: Request, image: bool = False, explain: bool = False, speakers: str | None = None):
        """The emotion of an uploaded recording: label, eight probabilities, timeline, model.

        `speakers=auto` (or a number of speakers, or `channels` for a two-party stereo
        recording) scores each speaker's turns: every timeline segment has `speaker`, and
        `speakers` gives each one's overall emotion, speaking time and share.

        `image=true` adds `spectrogram_png` (base64): the window the model looked at (for long
        audio, the one most typical of the overall label; `image_window` says which seconds).
        `explain=true` adds `explanation`: which regions of that image drove the decision,
        as a grid of probability drops and a PNG drawn over the image.
        """
        try:
            speakers = parse_speakers(speakers)
        except UsageError as exc:
            raise RequestFailed(400, str(exc)) from None
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
            raise RequestFailed(413, f"request of {int(declared)} bytes is over the "
                                     f"{_mib(settings.max_upload_bytes)} upload limit")
        deadline = asyncio.get_running_loop().time() + settings.timeout_s
        folder = Path(tempfile.mkdtemp(prefix="ser-img-upload-"))  # mode 0700: private to this user
        stop = jobs.add(folder)
        upload = _Upload(folder, settings.max_upload_bytes)
        try:
            await asyncio.wait_for(_receive(request, upload), settings.timeout_s)
        except BaseException as exc:
            upload.close()
            jobs.done(folder)
            if isinstance(exc, asyncio.TimeoutError):
                message = f"{upload.name}: upload not received within {settings.timeout_s:g} s"
                raise RequestFailed(408, message) from None
            raise
        upload.close()
        job = asyncio.get_running_loop().run_in_executor(pool, _recognize, recognizer, upload, folder, image,
                                                         explain, stop, speakers)
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

    return app


# The page is one file with inline script and style; it talks only to this server and shows
# images as data: URLs and the chosen audio as a blob: URL.
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
            "media-src blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"), (b"cross-origin-resource-policy", b"same-origin")]
SWAGGER_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")  # FastAPI's pages load their script from a CDN


class _Guard:
    """Refuses what a hostile web page could make a browser send, and adds the usual headers.

    - a Host header not naming this server (DNS rebinding: evil.example resolving to 127.0.0.1);
    - an Origin other than this server's own or one allowed by name (any page the user visits
      could otherwise post to the local server); a request without Origin (curl, scripts) is
      not from a web page and passes. Allowed origins get CORS headers and preflight answers.
    """

    def __init__(self, app, allowed_hosts: tuple[str, ...] | None, allowed_origins: tuple[str, ...]):
        self.app = app
        self.allowed_hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host, origin = headers.get("host", ""), headers.get("origin")
        refusal = self._refusal(host, origin)
        if refusal is not None:
            return await _json_response(send, 403, refusal, self._headers(scope, None))
        allowed = origin is not None and origin.rstrip("/").lower() in self.allowed_origins
        if allowed and scope["method"] == "OPTIONS":  # a CORS preflight from an allowed page
            extra = [(b"access-control-allow-methods", b"GET, POST"),
                     (b"access-control-allow-headers", b"content-type"), (b"access-control-max-age", b"600")]
            return await _json_response(send, 204, None, self._headers(scope, origin) + extra)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  *self._headers(scope, origin if allowed else None)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, host: str, origin: str | None) -> str | None:
        name = _host_name(host)
        if self.allowed_hosts is not None and name not in self.allowed_hosts:
            return (f"host {host or '(none)'!r} is not this server's name; start it with --allow-host "
                    f"{name or 'NAME'} to answer to it")
        if origin is None or origin.rstrip("/").lower() in self.allowed_origins:
            return None
        if origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower()):
            return None  # the page this server serves
        return (f"requests from web page {origin} are refused; start the server with --allow-origin "
                f"{origin} to allow them")

    @staticmethod
    def _headers(scope, cors_origin: str | None) -> list[tuple[bytes, bytes]]:
        path = scope.get("path", "")
        headers = list(SECURITY_HEADERS)
        if path not in SWAGGER_PATHS:
            headers.append((b"content-security-policy", (PAGE_CSP if path == "/" else API_CSP).encode()))
        if cors_origin is not None:
            headers += [(b"access-control-allow-origin", cors_origin.encode("latin-1")), (b"vary", b"Origin")]
        return headers


def _host_name(host: str) -> str:
    """The name in a Host header, without its port: 'localhost:8000' -> 'localhost', '[::1]:80' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _json_response(send, status: int, message: str | None, headers: list) -> None:
    body = b"" if message is None else json.dumps({"error": message}).encode()
    start = [(b"content-length", str(len(body)).encode())] + headers
    if message is not None:
        start.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


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
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:  # SIGTERM or Ctrl-C during a job: no upload is left behind
        app.state.stop_jobs()


class BackgroundServer:
    """Serve an app on a loopback port from a thread (tests and benchmarks)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, graceful_s: float | None = None):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    timeout_graceful_shutdown=graceful_s))
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
