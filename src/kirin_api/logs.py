"""Logging of every process: text for people, or (``KIRIN_LOG_FORMAT=json``) one JSON object a
line for log pipelines, carrying the request id, account, task and model where they apply.

Those facts travel in context variables, set where they become known (the request id by the
server's middleware, the account by authentication, the task and model by the worker), so any
log line written while they hold carries them without being passed along.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
ACCOUNT_ID: ContextVar[str | None] = ContextVar("account_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("task_id", default=None)
MODEL: ContextVar[str | None] = ContextVar("model", default=None)
_CONTEXT = {"request_id": REQUEST_ID, "account_id": ACCOUNT_ID, "task_id": TASK_ID, "model": MODEL}
# What a record may carry as ``extra=`` and a JSON line shows.
_EXTRAS = ("route", "method", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        for name, variable in _CONTEXT.items():
            value = getattr(record, name, None) or variable.get()
            if value is not None:
                line[name] = value
        for name in _EXTRAS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, fmt: str) -> None:
    """Set up the root logger of this process: ``fmt`` is ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@contextmanager
def task_context(task_id: str, model: str) -> Iterator[None]:
    """Log lines written inside name this task and its model."""
    tokens = (TASK_ID.set(task_id), MODEL.set(model))
    try:
        yield
    finally:
        TASK_ID.reset(tokens[0])
        MODEL.reset(tokens[1])
