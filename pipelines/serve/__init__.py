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

  upload     reading a request's audio: size limit, safe names
  guards     the ASGI guard: host names, origins, CSP and security headers
  jobs       an upload received and scored on the thread pool within its time limit
  app        create_app: the endpoints, the model card and summary, the error bodies
  settings   ServeSettings and the host names a server answers to
  server     load_app, bind, serve, and BackgroundServer for tests and benchmarks
"""

from .app import create_app
from .server import BackgroundServer, serve
from .settings import ServeSettings, allowed_hosts_for

__all__ = ["BackgroundServer", "ServeSettings", "allowed_hosts_for", "create_app", "serve"]
