"""The dialects this server speaks (see :mod:`kirin_api.server.dialects.base`).

- ``kirin``: the Kirin contract, ``/model/v1/...`` (the routes in ``kirin_api.server.routes_*``);
- ``vtrix_cli``: the vendor's CLI, a variant of the Kirin dialect plus its spec service;
- ``kling``: the official Kling API's legacy v1 paths.
"""

from __future__ import annotations

from kirin_api.server.dialects.base import Dialect
from kirin_api.views import TaskRenderer

__all__ = ["Dialect", "all_dialects", "callback_renderers", "dialect_for_path"]


def all_dialects() -> list[Dialect]:
    """Every dialect, the Kirin one first. Imported here, not at module level: the Kirin routes
    import the Vtrix module of this package."""
    from kirin_api.server import (
        routes_admin,
        routes_elements,
        routes_events,
        routes_files,
        routes_meta,
        routes_tasks,
        routes_uploads,
        routes_webhooks,
    )
    from kirin_api.server.dialects import kling, vtrix_cli

    kirin = Dialect(
        name=routes_tasks.DIALECT,
        routers=[
            routes_tasks.router,
            routes_events.router,
            routes_elements.router,
            routes_uploads.router,
            routes_meta.router,
            routes_webhooks.router,
            routes_files.router,
            routes_admin.router,
        ],
    )
    return [kirin, vtrix_cli.DIALECT, kling.DIALECT]


def dialect_for_path(dialects: list[Dialect], path: str) -> Dialect | None:
    """The dialect whose error table answers requests to ``path`` (None: the Kirin envelope)."""
    for dialect in dialects:
        if dialect.render_error is not None and dialect.owns(path):
            return dialect
    return None


def callback_renderers() -> dict[str, TaskRenderer]:
    """Dialect name -> how callbacks of tasks created in it are rendered (where not Kirin's)."""
    return {
        dialect.name: dialect.render_callback
        for dialect in all_dialects()
        if dialect.render_callback is not None
    }
