"""The dashboard's files (``api/web/static``), served from memory: compressed once, validated by ETag.

A first load of the dashboard fetches about 2.5 MB of files, MapLibre GL alone 1.7 MB. Compressed
by the GZip middleware they cost the API the same work on every load, on the machine whose CPU the
browser needs at that moment. Here each file is read and gzip-compressed (level 9, more than the
middleware can afford per request) once, when first asked for, and kept with its ETag; a changed
file (its size or mtime) is read again. A browser that has a file revalidates it with
``If-None-Match`` and gets ``304 Not Modified``.

Cache lifetimes: the page and its modules carry no version in their URLs, so they are
``no-cache`` (always revalidated: a new release is seen at once, and MapLibre is never newer or
older than the code that calls it); fonts and the base map, whose contents do not depend on the
code, may be reused for a day without asking.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

GZIP_LEVEL = 9  # paid once per file, not per request
MEDIA_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".geojson": "application/geo+json",
               ".woff2": "font/woff2", ".svg": "image/svg+xml", ".md": "text/markdown"}  # fmt: skip
COMPRESSIBLE = ("text/", "application/geo+json", "application/json", "image/svg+xml")
REVALIDATE = "no-cache"
DAY = "public, max-age=86400"
STABLE_FOLDERS = ("vendor/fonts/", "basemap/")  # content that does not change with the code


@dataclass(frozen=True)
class Asset:
    """One file as served: its bytes, their gzip (None when not worth it) and validators."""

    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str
    cache_control: str
    stamp: tuple[int, int]  # (mtime_ns, size) of the file it was read from


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def load_asset(path: Path, relative: str) -> Asset:
    """Read and compress one file (the pure part: no request, no cache)."""
    stat = path.stat()
    body = path.read_bytes()
    kind = media_type(path)
    packed = gzip.compress(body, GZIP_LEVEL, mtime=0) if kind.startswith(COMPRESSIBLE) else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    cache = DAY if relative.startswith(STABLE_FOLDERS) else REVALIDATE
    return Asset(body, packed, digest, kind, cache, (stat.st_mtime_ns, stat.st_size))


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison of the validators listed in If-None-Match."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def respond(asset: Asset, request: Request) -> Response:
    """The asset in the encoding the client accepts, or 304 when its validator still matches."""
    gz = asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", "")
    etag = f'"{asset.etag}-gz"' if gz else f'"{asset.etag}"'  # one validator per representation
    headers = {"ETag": etag, "Cache-Control": asset.cache_control, "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if gz and asset.gzipped is not None else asset.body
    return Response(body if request.method != "HEAD" else b"", media_type=asset.media_type,
                    headers={**headers, "Content-Length": str(len(body))})  # fmt: skip


class StaticAssets:
    """ASGI app for the files under ``root`` (GET and HEAD; 404 for anything else or outside it)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def asset(self, relative: str) -> Asset | None:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        stat = path.stat()
        with self._lock:
            known = self._assets.get(relative)
        if known is not None and known.stamp == (stat.st_mtime_ns, stat.st_size):
            return known
        fresh = load_asset(path, relative)
        with self._lock:
            self._assets[relative] = fresh
        return fresh

    async def serve(self, request: Request, relative: str) -> Response:
        """The response for ``relative`` (reading and compressing off the event loop, once)."""
        found = await anyio.to_thread.run_sync(self.asset, relative) if request.method in ("GET", "HEAD") else None
        return respond(found, request) if found is not None else Response("Not Found", 404, media_type="text/plain")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relative = scope["path"].removeprefix(scope.get("root_path", "")).lstrip("/")
        response = await self.serve(Request(scope, receive), relative)
        await response(scope, receive, send)
