"""The FastAPI app over one loaded EmotionRecognizer: the web page, /predict, /health, /model
(the model's description, metrics and card, with the summary the page shows) and its errors
as {"error": "..."} bodies."""

from __future__ import annotations

import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from ser_img import __version__
from ser_img.errors import UsageError
from ser_img.recognizer import EmotionRecognizer

from .guards import Guard
from .jobs import Jobs, capped, run_upload
from .settings import ServeSettings
from .upload import RequestFailed, mib

log = logging.getLogger("ser_img")
PAGE = Path(__file__).resolve().parent.parent / "web" / "index.html"
MODEL_CARD = "MODEL_CARD.md"


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


def create_app(recognizer: EmotionRecognizer, settings: ServeSettings = ServeSettings()):
    card = model_card(recognizer.model_dir)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ser-img-predict")
    jobs = Jobs()
    # python-multipart logs a warning for every malformed body it sees: the 4xx and its
    # access-log line say it already.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    recognizer = capped(recognizer, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.stop_all()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="ser-img", version=__version__, lifespan=lifespan,
                  description="Speech emotion recognition: upload audio, get the emotion, its eight "
                              "probabilities and, for long recordings, a timeline.")
    app.state.stop_jobs = jobs.stop_all  # serve() calls it too, however the server ends
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts, allowed_origins=settings.allowed_origins)

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

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
    def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.api_route("/health", methods=["GET", "HEAD"])
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
        try:  # the form's options, validated once, on the server's recognizer
            asked = recognizer.with_options(speakers=speakers)
        except UsageError as exc:
            raise RequestFailed(400, str(exc)) from None
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
            raise RequestFailed(413, f"request of {int(declared)} bytes is over the "
                                     f"{mib(settings.max_upload_bytes)} upload limit")
        return await run_upload(request, asked, settings, pool, jobs, image, explain)

    return app

