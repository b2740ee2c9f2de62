"""File uploads: the GraphQL multipart request specification (jaydenseric/graphql-multipart-request-spec).

A `multipart/form-data` POST carries the operation as the `operations` field (the JSON body
a plain request would have, with null where each file goes), a `map` field naming where
each file goes (`{"0": ["variables.file"]}`), and the files as further fields named by the
map's keys. `place_files` puts each file into the operation's variables as an
`UploadedFile`, which the `Upload` scalar (schema/data.py) takes.

The body is read while it streams in and refused past its limit (schema/http.py); this
module only takes the read body apart. Anything malformed is a `MultipartRefused` with the
HTTP status and one message for the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from typing import Any

import orjson

MAX_PARTS = 20
SEPARATOR = b"\r\n\r\n"


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file, held in memory (uploads are small: PARTNERDESK_MAX_UPLOAD_BYTES)."""

    filename: str | None
    content_type: str | None
    content: bytes


class MultipartRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart/form-data Content-Type header."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise MultipartRefused(400, "The multipart/form-data request has no valid boundary.")
    return boundary.encode("latin-1", errors="replace")


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def split_parts(body: bytes, boundary: bytes) -> list[Part]:
    """The form fields of a multipart body, in order."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        position = len(delimiter)
    else:
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise MultipartRefused(400, "The multipart body holds no part.")
        position = start + 2 + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", position):
            return parts  # the closing delimiter
        if not body.startswith(b"\r\n", position):
            raise MultipartRefused(400, "The multipart body is malformed.")
        headers_end = body.find(SEPARATOR, position + 2)
        next_delimiter = body.find(b"\r\n" + delimiter, position + 2)
        if headers_end < 0 or next_delimiter < 0 or headers_end > next_delimiter:
            raise MultipartRefused(400, "The multipart body ends in the middle of a part.")
        headers = body[position + 2 : headers_end].decode("utf-8", errors="replace")
        parts.append(_part(headers, body[headers_end + len(SEPARATOR) : next_delimiter]))
        if len(parts) > MAX_PARTS:
            raise MultipartRefused(400, f"At most {MAX_PARTS} parts per multipart request.")
        position = next_delimiter + 2 + len(delimiter)


def _part(headers: str, content: bytes) -> Part:
    message = HeaderParser().parsestr(headers)
    name = message.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise MultipartRefused(400, "A multipart part has no name.")
    return Part(name, message.get_filename(), message.get_content_type(), content)


def place_files(parts: list[Part], max_file_bytes: int, max_json_bytes: int) -> dict[str, Any]:
    """The operation (`operations`) with every mapped file put where the `map` says."""
    fields = {part.name: part for part in parts}
    if "operations" not in fields or "map" not in fields:
        raise MultipartRefused(
            400,
            "A multipart request needs the fields `operations` and `map` (GraphQL multipart request specification).",
        )
    for name in ("operations", "map"):
        if len(fields[name].content) > max_json_bytes:
            raise MultipartRefused(
                413, f"The `{name}` field is too large: at most {max_json_bytes} bytes."
            )
    operations = _json(fields["operations"].content, "operations")
    if isinstance(operations, list):
        raise MultipartRefused(
            400, "Batched requests are not accepted: send one operation per request."
        )
    if not isinstance(operations, dict):
        raise MultipartRefused(400, "`operations` must be a JSON object with a `query`.")
    mapping = _json(fields["map"].content, "map")
    if not isinstance(mapping, dict) or not all(
        isinstance(paths, list) and all(isinstance(path, str) for path in paths)
        for paths in mapping.values()
    ):
        raise MultipartRefused(
            400, "`map` must be a JSON object of file field names to lists of paths."
        )
    for key, paths in mapping.items():
        part = fields.get(key)
        if part is None or key in ("operations", "map"):
            raise MultipartRefused(
                400, f"The map names the file field `{key}`, which the request lacks."
            )
        if len(part.content) > max_file_bytes:
            raise MultipartRefused(413, f"The file is too large: at most {max_file_bytes} bytes.")
        upload = UploadedFile(part.filename, part.content_type, part.content)
        for path in paths:
            _put(operations, path, upload)
    return operations


def _json(content: bytes, name: str) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise MultipartRefused(400, f"Unable to parse the `{name}` field as JSON.") from None


def _put(operations: dict[str, Any], path: str, upload: UploadedFile) -> None:
    """Put `upload` at a path such as "variables.file" or "variables.files.0"."""
    steps = path.split(".")
    if len(steps) < 2 or steps[0] != "variables":
        raise MultipartRefused(400, f"A file can only go into the variables, not to `{path}`.")
    container: Any = operations
    for position, step in enumerate(steps):
        key: str | int
        if isinstance(container, dict) and step in container:
            key = step
        elif isinstance(container, list) and step.isdigit() and int(step) < len(container):
            key = int(step)
        else:
            raise MultipartRefused(400, f"The map names `{path}`, which the variables lack.")
        if position < len(steps) - 1:
            container = container[key]
        elif container[key] is not None:
            raise MultipartRefused(
                400, f"`{path}` must be null in the operation: the file goes there."
            )
        else:
            container[key] = upload
