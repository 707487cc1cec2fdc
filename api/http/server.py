"""Running the API under uvicorn (``urbanpulse serve``; the demo runs the same server on a thread)."""

from __future__ import annotations

import uvicorn

from api.http.app import create_app
from runtime.settings import Settings

GRACEFUL_S = 5  # open live streams get this long to end at shutdown


def uvicorn_config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(create_app(settings), host=host, port=port, log_config=None, access_log=False,
                          timeout_graceful_shutdown=GRACEFUL_S, proxy_headers=True, server_header=False)  # fmt: skip


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted (SIGINT / SIGTERM end it cleanly)."""
    uvicorn.Server(uvicorn_config(settings, host, port)).run()
