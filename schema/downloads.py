"""GET /exports/<token>: a download link's file, streamed, once (resolvers/exports.py).

The token in the path is the credential (256 bits, single use, 10 minutes), so the route
needs no bearer token, and neither responses nor redirects are ever cached. Unknown, used
and expired links all answer the same 404. HEAD is refused rather than answered, so that a
link checker cannot use up a link.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from resolvers.exports import claim_download

NOT_CACHED = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


async def download(request: Request) -> Response:
    if request.method != "GET":
        return PlainTextResponse(
            "Download links answer GET only.", 405, headers={"allow": "GET", **NOT_CACHED}
        )
    found = await claim_download(request.path_params["token"])
    if found is None:
        return PlainTextResponse(
            "This download link is unknown, used or expired: ask for a new export.",
            404,
            headers=NOT_CACHED,
        )
    return StreamingResponse(
        found.chunks,
        media_type=found.media_type,
        headers={
            "content-disposition": f'attachment; filename="{found.file_name}"',
            **NOT_CACHED,
        },
    )
