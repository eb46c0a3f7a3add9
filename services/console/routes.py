"""Routes of the web console: the page and its static files, shipped in this package.

The console is a client of the public `/v1` API like any other: the browser calls it with the
token the analyst signs in with, so these routes need no credentials and touch no data. They
are left out of the OpenAPI document, which describes the API only.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.http import NotFound

router = APIRouter(include_in_schema=False)

STATIC: Traversable = resources.files(__package__).joinpath("static")

_MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
# Lower-case names in at most one folder level: no way to climb out of the static folder.
_ASSET = re.compile(r"^(?:[a-z0-9-]+/)?[a-z0-9-]+\.(html|js|css|svg)$")

# Everything the page loads comes from this origin: no inline script, nothing from a CDN.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _asset(request: Request, name: str) -> Response:
    match = _ASSET.match(name)
    if match is None:
        raise NotFound(f"no console file {name!r}")
    path = STATIC.joinpath(*name.split("/"))
    if not path.is_file():
        raise NotFound(f"no console file {name!r}")
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # Revalidated on every load, so a new release is picked up at once, at the cost of a 304.
    headers = {**_SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_MEDIA_TYPES[match.group(1)], headers=headers)


@router.get("/console")
async def console_root(request: Request) -> RedirectResponse:
    # The page loads its files by relative URL, which needs the trailing slash.
    return RedirectResponse(f"{request.scope.get('root_path', '')}/console/", status_code=308)


@router.get("/console/")
async def console_page(request: Request) -> Response:
    return _asset(request, "index.html")


@router.get("/console/{name:path}")
async def console_file(request: Request, name: str) -> Response:
    return _asset(request, name)
