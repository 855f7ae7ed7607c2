"""How the benchmark's own Sanic apps (the references) are served: as `learnbot serve` serves,
HOST, PORT and WORKERS from the environment, but without an access log."""

from __future__ import annotations

import os
from typing import Any

from sanic import Sanic


def serve(app: Sanic[Any, Any]) -> None:
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WORKERS", "1")),
        access_log=False,
        motd=False,
    )
