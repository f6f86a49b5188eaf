"""kirin-api: a self-hosted server for the Kirin video-generation API, and its Python SDK.

The SDK's names (``Client``, ``AsyncClient``, ``verify_webhook``, ``Task``, the errors) are
importable from here. They are loaded on first use, so ``import kirin_api`` stays cheap and
never pulls in httpx, pydantic or anything of the server side.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kirin_api.client import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AsyncClient,
        AuthenticationError,
        BadRequestError,
        Client,
        ConflictError,
        Element,
        InsufficientBalanceError,
        InternalServerError,
        KirinError,
        ModelInfo,
        NoResultError,
        NotFoundError,
        Page,
        PayloadTooLargeError,
        PermissionDeniedError,
        PollPolicy,
        RateLimitError,
        RequestTimeoutError,
        RetryPolicy,
        ServiceUnavailableError,
        Task,
        TaskStatus,
        WaitTimeoutError,
        WebhookVerificationError,
        verify_webhook,
    )

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "Element",
    "InsufficientBalanceError",
    "InternalServerError",
    "KirinError",
    "ModelInfo",
    "NoResultError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "Task",
    "TaskStatus",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
_SDK_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    # PEP 562: the SDK is imported when one of its names is first asked for.
    if name in _SDK_NAMES:
        value = getattr(importlib.import_module("kirin_api.client"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kirin_api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SDK_NAMES})
