"""The agent's ``GET /stats/summary``: the same summary document the publisher pushes.

For mounting on the agent's HTTPS server (port 10250), next to logs and exec::

    app.router.add_get("/stats/summary", summary_handler(collector.collect_now))

Invariant: the handler only reads (it calls ``collect``); it holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web


def summary_handler(
    collect: Callable[[], dict[str, Any]],
) -> Callable[[web.Request], Any]:
    """An aiohttp handler answering with ``collect()`` as JSON."""

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(collect()), content_type="application/json")

    return handle
