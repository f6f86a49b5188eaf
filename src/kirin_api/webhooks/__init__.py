"""Callbacks: Standard Webhooks signing, the submit-time check of ``callback_url`` and the
delivery loop that drains the outbox the store fills (see ``docs/callbacks.md``).

Builds on ``contract``, ``store``, ``storage``, ``net`` and :mod:`kirin_api.views`; imported by the
server (the check, the secret's format) and wired into processes by the CLI.
"""

from __future__ import annotations

from kirin_api.webhooks.deliverer import (
    DEFAULT_TIMEOUT_SECONDS,
    Deliverer,
    DeliveryConfig,
    parse_schedule,
)
from kirin_api.webhooks.signing import (
    SECRET_PREFIX,
    format_secret,
    signature_header,
    webhook_headers,
)
from kirin_api.webhooks.urls import check_callback_url

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "SECRET_PREFIX",
    "Deliverer",
    "DeliveryConfig",
    "check_callback_url",
    "format_secret",
    "parse_schedule",
    "signature_header",
    "webhook_headers",
]
