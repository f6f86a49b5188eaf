"""What a dialect is: an adapter at the edge between its clients' wire format and the one core.

A dialect parses its requests into the Kirin body and calls :mod:`kirin_api.server.tasks_service`
(same validation, same store, same accounts, limits and money), then renders the task record in
its own shape. It declares:

- ``routers``: its routes (thin: parse, call the core, render);
- ``path_prefixes`` and ``render_error``: every error raised under those paths (by a route, by
  authentication, by a query parameter, an unknown route under them) is answered through its
  own error table instead of the Kirin envelope;
- ``render_callback``: the body of a callback of a task that was created in it (the task records
  its dialect); ``None`` keeps the Kirin task object.

Adding a dialect is one module that defines a :class:`Dialect` and one entry in
``kirin_api.server.dialects.DIALECTS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kirin_api.contract.errors import RequestError
from kirin_api.views import TaskRenderer

ErrorRenderer = Callable[[RequestError, Request], JSONResponse]


@dataclass(frozen=True)
class Dialect:
    name: str
    routers: Sequence[APIRouter]
    path_prefixes: tuple[str, ...] = ()
    render_error: ErrorRenderer | None = None
    render_callback: TaskRenderer | None = None

    def owns(self, path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in self.path_prefixes)
