"""Kling's legacy v1 paths over the one core: each product (text2video, image2video, ...) has a
create, a read by ``task_id`` (or by ``external_task_id`` in the same place, as Kling's docs
allow), a read by ``?external_task_id=`` and a numbered list, all in Kling's envelope.

A Kling body is the Kirin body of the model its product and ``model_name`` name, so parsing is
small: ``model_name`` picks the model (an unknown one is 1201 naming it), and the rest goes to
the Kirin contract unchanged, where a parameter the model does not have is refused (1201 with
its name), never dropped. The one rename is Kling's element video list,
``{"refer_videos": [{"video_url"}]}``, which is the contract's ``{"video_url"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from kirin_api.contract.errors import InvalidParameter, InvalidRequest, NotFound
from kirin_api.contract.kling_products import PRODUCTS, Product
from kirin_api.server import tasks_service
from kirin_api.server.context import ServerContext
from kirin_api.server.dialects.kling.auth import authenticate
from kirin_api.server.dialects.kling.shapes import envelope, task_data
from kirin_api.server.views import result_links
from kirin_api.store.base import Account, TaskRecord

DIALECT = "kling"
CurrentAccount = Annotated[Account, Depends(authenticate)]
router = APIRouter(tags=["kling"])


def kirin_body(product: Product, body: object) -> dict[str, Any]:
    """The Kirin body of a Kling create request on ``product``."""
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    params = dict(body)
    model = product.model_for(params)
    if "model" in params:
        raise InvalidParameter(
            f"unknown parameter 'model' on {product.path}; it takes no model", param="model"
        )
    videos = params.get("element_video_list")
    if isinstance(videos, dict) and "refer_videos" in videos:
        params["element_video_list"] = _one_refer_video(videos)
    return {"model": model, **params}


def _one_refer_video(videos: dict[str, Any]) -> dict[str, Any]:
    refer = videos["refer_videos"]
    if (
        set(videos) != {"refer_videos"}
        or not isinstance(refer, list)
        or len(refer) != 1
        or not isinstance(refer[0], dict)
    ):
        raise InvalidParameter(
            'element_video_list.refer_videos must be a list of exactly one {"video_url": ...}',
            param="element_video_list.refer_videos",
        )
    return dict(refer[0])


def _render(request: Request, task: TaskRecord) -> dict[str, Any]:
    context = tasks_service.context_of(request)
    return task_data(task, result_links(context), str(request.base_url))


async def _find(request: Request, account: Account, product: Product, ref: str) -> TaskRecord:
    """The product's task with this ``task_id``, else with this ``external_task_id``."""
    context = tasks_service.context_of(request)
    task = await run_get(context, account, ref)
    if task is not None and task.model in product.models:
        return task
    try:
        return await tasks_service.find_by_external_id(context, account, ref, product.models)
    except NotFound:
        raise NotFound(f"no {product.path} task {ref!r}", param="task_id") from None


async def run_get(context: ServerContext, account: Account, task_id: str) -> TaskRecord | None:
    try:
        return await tasks_service.get(context, account, task_id)
    except NotFound:
        return None


Handler = Callable[..., Awaitable[dict[str, Any]]]


def _routes(product: Product) -> tuple[Handler, Handler, Handler]:
    async def create(request: Request, account: CurrentAccount) -> dict[str, Any]:
        context = tasks_service.context_of(request)
        body = await tasks_service.read_json(request, context.max_body_bytes)
        params = kirin_body(product, body)
        task = await tasks_service.submit(context, account, params, dialect=DIALECT)
        return envelope(_render(request, task))

    async def read(task_id: str, request: Request, account: CurrentAccount) -> dict[str, Any]:
        return envelope(_render(request, await _find(request, account, product, task_id)))

    async def listing(
        request: Request,
        account: CurrentAccount,
        page_num: Annotated[int, Query(alias="pageNum", ge=1, le=1000)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=500)] = 30,
        external_task_id: str | None = None,
    ) -> dict[str, Any]:
        context = tasks_service.context_of(request)
        if external_task_id is not None:
            task = await tasks_service.find_by_external_id(
                context, account, external_task_id, product.models
            )
            return envelope(_render(request, task))
        page = await tasks_service.list_page(
            context,
            account,
            limit=page_size,
            offset=(page_num - 1) * page_size,
            models=product.models,
        )
        return envelope([_render(request, task) for task in page.tasks])

    return create, read, listing


for _product in PRODUCTS:
    _create, _read, _list = _routes(_product)
    _name = _product.path.rsplit("/", 1)[1]
    _slug = _name.replace("-", "_")
    router.add_api_route(
        _product.path,
        _create,
        methods=["POST"],
        name=f"kling_create_{_slug}",
        summary=f"Kling: create a {_name} task",
    )
    router.add_api_route(
        _product.path + "/{task_id}",
        _read,
        methods=["GET"],
        name=f"kling_get_{_slug}",
        summary=f"Kling: one {_name} task, by task_id or external_task_id",
    )
    router.add_api_route(
        _product.path,
        _list,
        methods=["GET"],
        name=f"kling_list_{_slug}",
        summary=f"Kling: {_name} tasks newest first (pageNum, pageSize), or ?external_task_id=",
    )
