"""The official Kling API's dialect (its legacy v1 paths): clients written for Kling's own API
work against this server by changing their base URL. See ``docs/dialects.md``."""

from __future__ import annotations

from kirin_api.server.dialects.base import Dialect
from kirin_api.server.dialects.kling.routes import DIALECT as NAME
from kirin_api.server.dialects.kling.routes import router
from kirin_api.server.dialects.kling.shapes import render_error, task_data

DIALECT = Dialect(
    name=NAME,
    routers=[router],
    path_prefixes=("/v1/",),
    render_error=render_error,
    # Kling posts the bare task data to callback_url (no envelope).
    render_callback=task_data,
)
