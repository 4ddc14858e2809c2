"""Reading an upload: a request body (multipart field "file", or the raw body) streamed into a
private folder, checked against the size limit as it arrives, under a name safe to show."""

from __future__ import annotations

import re
from pathlib import Path


class RequestFailed(Exception):
    """An expected failure of a request: answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Upload:
    """Streams one request body into `folder`, holding at most `limit` bytes."""

    def __init__(self, folder: Path, limit: int):
        self.folder, self.limit = folder, limit
        self.path: Path | None = None
        self.name = "upload"
        self.size = 0
        self._handle = None

    def open(self, name: str | None) -> None:
        self.name = safe_name(name)
        self.path = self.folder / ("upload" + re.sub(r"[^A-Za-z0-9.]", "", Path(self.name).suffix)[:16])
        self._handle = open(self.path, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise RequestFailed(413, f"{self.name}: larger than the {mib(self.limit)} upload limit")
        self._handle.write(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def safe_name(name: str | None) -> str:
    """The client's file name as answers show it: its last part, no control characters, at most
    255 characters (the rest of the name is the client's business, and never a path here)."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", (name or "").replace("\\", "/")).rsplit("/", 1)[-1].strip()
    if len(name) > 255:
        suffix = Path(name).suffix[:16]
        name = name[: 255 - len(suffix) - 1] + "…" + suffix
    return name if name not in ("", ".", "..") else "upload"


async def receive(request, upload: Upload) -> None:
    """The audio of a request: multipart field "file" (as browsers send it) or the raw body."""
    from python_multipart.exceptions import MultipartParseError
    from starlette.requests import ClientDisconnect

    try:
        await _receive_body(request, upload)
    except MultipartParseError as exc:
        raise RequestFailed(400, f"malformed multipart request ({exc})") from None
    except ClientDisconnect:
        raise RequestFailed(400, f"{upload.name}: upload cut short (the client went away)") from None


async def _receive_body(request, upload: Upload) -> None:
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


def mib(size: int) -> str:
    """A size in bytes as people read a limit: '100 MiB'."""
    return f"{size / 2**20:.3g} MiB"
