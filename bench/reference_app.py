"""A bare Sanic app: one handler answering {"status": "ok"}, the framework's own ceiling."""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from bench.serving import serve

app = Sanic("learnbot_bench_reference")
# Sanic extends every app with sanic-ext when it is installed (it is, for learnbot): not here.
app.config.AUTO_EXTEND = False


@app.get("/health")
async def health(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


if __name__ == "__main__":
    serve(app)
