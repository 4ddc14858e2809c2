"""The server's guard (ASGI middleware): refuses other host names and other web pages' requests,
answers allowed pages' CORS preflights, and adds the security headers and CSP to every answer."""

from __future__ import annotations

import json

# The page is one file with inline script and style; it talks only to this server and shows
# images as data: URLs and the chosen audio as a blob: URL.
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
            "media-src blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"), (b"cross-origin-resource-policy", b"same-origin")]
SWAGGER_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")  # FastAPI's pages load their script from a CDN


class Guard:
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
