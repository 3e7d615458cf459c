"""The demo app of ``make run``: a minimal Starlette app wrapped in the middleware.

Each middleware issue adds what a newcomer should see in the browser here.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from edgeward.metrics import metrics_app

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeward demo</title></head>
<body>
<h1>edgeward demo app</h1>
<p>This app runs behind the edgeward middleware. Metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
"""


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def build_app() -> Starlette:
    return Starlette(routes=[Route("/", home), Mount("/metrics", app=metrics_app())])


app = build_app()
