"""Models, health and readiness (the webhook secret is in ``routes_webhooks``)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import NotFound
from kirin_api.contract.registry import model_schemas
from kirin_api.metrics import scrape
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.storage.base import StorageError
from kirin_api.store.base import Account, StoreUnavailable
from kirin_api.watchdog import served_now

router = APIRouter()
CurrentAccount = Annotated[Account, Depends(authenticate)]


@router.get("/model/v1/models", tags=["models"], summary="The models this server serves")
async def list_models(request: Request, account: CurrentAccount) -> dict[str, Any]:
    """Each model with its JSON Schema, whether a live worker serves it now (``available``)
    and how many of its tasks wait (``queue_depth``, all accounts')."""
    context: ServerContext = request.app.state.context
    workers = await run_in_threadpool(context.store.list_workers)
    stats = await run_in_threadpool(context.store.queue_stats)
    serving = served_now(workers, time.time(), context.worker_stale_seconds)
    data = [
        {
            **model,
            "available": model["id"] in serving,
            "queue_depth": stats[model["id"]].pending if model["id"] in stats else 0,
        }
        for model in model_schemas()
    ]
    return {"object": "list", "data": data, "next_cursor": None}


@router.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    context: ServerContext = request.app.state.context
    if not context.metrics:
        raise NotFound("metrics are off (KIRIN_METRICS=false)")
    body = await run_in_threadpool(scrape, context.store, context.worker_stale_seconds)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/healthz", tags=["health"], summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="Readiness: database and storage reachable")
async def readyz(request: Request) -> JSONResponse:
    context: ServerContext = request.app.state.context
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(context.store.ping)
        checks["database"] = "ok"
    except StoreUnavailable as exc:
        checks["database"] = f"unavailable: {exc}"
    try:
        await run_in_threadpool(context.storage.ping)
        checks["storage"] = "ok"
    except StorageError as exc:
        checks["storage"] = f"unavailable: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
