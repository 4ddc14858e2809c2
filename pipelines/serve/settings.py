"""What a server is started with: its limits, and the host names and web pages it answers to.

Below both the app (which reads the settings) and the server (which makes the app), so that
neither imports the other's module back."""

from __future__ import annotations

from dataclasses import dataclass

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
