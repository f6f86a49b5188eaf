"""Models, health and readiness (the webhook secret is in ``routes_webhooks``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.registry import model_schemas
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.storage.base import StorageError
from kirin_api.store.base import Account, StoreUnavailable

router = APIRouter()
CurrentAccount = Annotated[Account, Depends(authenticate)]


@router.get("/model/v1/models", tags=["models"], summary="The models this server serves")
async def list_models(account: CurrentAccount) -> dict[str, Any]:
    return {"object": "list", "data": model_schemas(), "next_cursor": None}


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
