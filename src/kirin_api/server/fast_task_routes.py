"""The busiest task routes, answered without FastAPI's per-request machinery.

``GET /model/v1/generation/task/{task_id}`` and ``GET /model/v1/generation/tasks`` are what a
polling client sends many times a second; ``POST /model/v1/generation`` what a busy one sends.
Under load, FastAPI's handling of them (its router, exception and exit-stack middleware,
dependency solving, parameter validation and serialising the returned dict through pydantic)
took more time than the work itself: the key checked, one indexed read, the object built
(profiled with py-spy; docs/benchmarks.md).

This middleware sits inside :class:`~kirin_api.server.request_ids.RequestIdMiddleware` (request
ids, metrics and the access log as for every request) and answers those routes itself in the
plain case; anything else goes on to FastAPI unchanged, and the routes stay declared there (the
OpenAPI document, HEAD, the Vtrix CLI's reads, a ``limit`` that needs validating). What it
answers is what the FastAPI route answers: the same functions make the account, the submission,
the read and the task objects, and an error is answered by the app's own exception handler for
it (the same envelope, status and headers).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kirin_api import fastjson
from kirin_api.server import routes_tasks, tasks_service
from kirin_api.server.auth import authenticate
from kirin_api.server.dialects import vtrix_cli

# ``limit`` in the plain form FastAPI would accept as is; any other spelling goes to FastAPI
# (which validates it and answers its error).
_PLAIN_LIMIT = re.compile(r"^[1-9][0-9]{0,2}$")
_MAX_LIMIT = 100


class FastTaskRoutes:
    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._get_route = _route_named(routes_tasks.get_task.__name__)
        self._list_route = _route_named(routes_tasks.list_tasks.__name__)
        self._create_route = _route_named(routes_tasks.create_task.__name__, "POST")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] == "POST" and path == self._create_route.path:
            await self._serve(self._create_route, {}, scope, receive, send)
            return
        if scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if path == self._list_route.path:
            await self._serve(self._list_route, {}, scope, receive, send)
            return
        match = self._get_route.path_regex.match(path)
        if match is not None:
            await self._serve(self._get_route, match.groupdict(), scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        route: APIRoute,
        path_params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # What Starlette's router puts in the scope: the app (request.app), the route (the
        # template that metrics and logs name) and the path parameters.
        scope["app"] = self.fastapi_app
        scope["route"] = route
        scope["path_params"] = path_params
        request = Request(scope, receive)
        if route is not self._create_route and vtrix_cli.is_cli_request(request):
            # The CLI's own task shape and envelope: FastAPI's route does that.
            await self.app(scope, receive, send)
            return
        limit = _plain_limit(request) if route is self._list_route else None
        if route is self._list_route and limit is None:
            await self.app(scope, receive, send)
            return
        try:
            if route is self._create_route:
                response = await self._create(request)
            elif limit is None:
                response = await self._get(request)
            else:
                response = await self._list(request, limit)
        except Exception as exc:
            handler = _handler_for(self.fastapi_app, exc)
            if handler is None:
                raise  # a bug: the 500 of ServerErrorMiddleware, as for any route
            response = await handler(request, exc)
        await response(scope, receive, send)

    async def _get(self, request: Request) -> Response:
        account = await authenticate(request)
        context = tasks_service.context_of(request)
        task = await tasks_service.get(context, account, request.path_params["task_id"])
        headers = None
        if not task.status.finished:
            headers = {"Retry-After": str(routes_tasks.POLL_AFTER_SECONDS)}
        return _json(routes_tasks.answer(request, task), headers)

    async def _create(self, request: Request) -> Response:
        account = await authenticate(request)
        body, headers = await routes_tasks.create_answer(request, account)
        return _json(body, headers)

    async def _list(self, request: Request, limit: int) -> Response:
        account = await authenticate(request)
        query = request.query_params
        return _json(
            await routes_tasks.list_answer(
                request,
                account,
                limit=limit,
                cursor=query.get("cursor"),
                status=query.get("status"),
                model=query.get("model"),
                external_task_id=query.get("external_task_id"),
            ),
            None,
        )


def _plain_limit(request: Request) -> int | None:
    """``limit`` when absent (the default) or plainly written, else None (FastAPI decides)."""
    given = request.query_params.get("limit")
    if given is None:
        return routes_tasks.DEFAULT_LIST_LIMIT
    if not _PLAIN_LIMIT.match(given) or int(given) > _MAX_LIMIT:
        return None
    return int(given)


def _json(body: Any, headers: dict[str, str] | None) -> Response:
    # The bytes FastAPI writes for a returned dict: compact, UTF-8.
    return Response(fastjson.dumps(body), media_type="application/json", headers=headers)


def _route_named(name: str, method: str = "GET") -> APIRoute:
    # The router's own route (its path is the full template: the router has the prefix).
    for route in routes_tasks.router.routes:
        if isinstance(route, APIRoute) and route.name == name and method in (route.methods or ()):
            return route
    raise LookupError(f"no {method} route named {name!r}")


def _handler_for(app: FastAPI, exc: Exception) -> Any:
    """The app's handler for ``exc`` (the nearest class in its MRO), as Starlette's exception
    middleware looks it up; None for the catch-all ``Exception`` (a bug: answered outside)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None
