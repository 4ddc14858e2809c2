"""Running the app: the model loaded once, the listening socket (a taken port is one line, before the model loads),
`serve` until interrupted with every log line on stderr, and a server on a thread for tests
and benchmarks."""

from __future__ import annotations

import copy
import errno
import logging
import socket
import threading
from pathlib import Path

from ser_img.errors import UsageError
from ser_img.recognizer import EmotionRecognizer, describe_model_dir

from .app import create_app
from .settings import ServeSettings

log = logging.getLogger("ser_img")


def load_app(model_dir: Path | None, settings: ServeSettings = ServeSettings()):
    """The app over the model in `model_dir` (or the default one), loaded once."""
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
