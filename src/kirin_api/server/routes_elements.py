"""The account's subject library: elements made by ``kirin_custom_elements`` tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from kirin_api.contract.errors import NotFound
from kirin_api.server.auth import authenticate
from kirin_api.server.context import ServerContext
from kirin_api.server.views import element_object
from kirin_api.store.base import Account

router = APIRouter(prefix="/model/v1/elements", tags=["elements"])
CurrentAccount = Annotated[Account, Depends(authenticate)]
# Element ids are positive 63-bit integers; anything else cannot name one.
MAX_ELEMENT_ID = 2**63 - 1


def _element_id(raw: str) -> int:
    if raw.isdecimal() and 0 < int(raw) <= MAX_ELEMENT_ID:
        return int(raw)
    raise NotFound(f"no element {raw!r}", param="element_id")


@router.get("", summary="List the account's elements, newest first")
async def list_elements(
    request: Request,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    context: ServerContext = request.app.state.context
    page = await run_in_threadpool(
        lambda: context.store.list_elements(account.id, limit=limit, cursor=cursor)
    )
    base_url = str(request.base_url)
    return {
        "object": "list",
        "data": [element_object(element, context, base_url) for element in page.elements],
        "next_cursor": page.next_cursor,
    }


@router.get("/{element_id}", summary="One element")
async def get_element(element_id: str, request: Request, account: CurrentAccount) -> dict[str, Any]:
    context: ServerContext = request.app.state.context
    element = await run_in_threadpool(
        context.store.get_element, account.id, _element_id(element_id)
    )
    if element is None:
        raise NotFound(f"no element {element_id!r}", param="element_id")
    return element_object(element, context, str(request.base_url))


@router.delete("/{element_id}", summary="Delete an element")
async def delete_element(
    element_id: str, request: Request, account: CurrentAccount
) -> dict[str, Any]:
    context: ServerContext = request.app.state.context
    number = _element_id(element_id)
    if not await run_in_threadpool(context.store.delete_element, account.id, number):
        raise NotFound(f"no element {element_id!r}", param="element_id")
    return {"id": number, "object": "element", "deleted": True}
