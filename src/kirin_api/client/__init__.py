"""The Python SDK of the Kirin API: sync and async clients, typed results, one error tree,
callback verification.

It needs only httpx and pydantic, and imports nothing of the server side::

    from kirin_api import Client

    with Client() as client:  # KIRIN_BASE_URL, KIRIN_API_KEY
        task = client.tasks.create_and_wait("kirin_v1_t2v", prompt="a fox in snow")
        if task.status == "completed":
            client.tasks.download(task, "fox.mp4")
        else:
            print(task.error)
"""

from kirin_api.client._async import AsyncClient
from kirin_api.client._core import PollPolicy, RetryPolicy
from kirin_api.client._events import StreamUnsupported
from kirin_api.client._sync import Client
from kirin_api.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    KirinError,
    NoResultError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServiceUnavailableError,
    WaitTimeoutError,
    WebhookVerificationError,
    error_from_response,
)
from kirin_api.client.helpers import encode_image
from kirin_api.client.types import (
    Element,
    ModelInfo,
    OutputContent,
    Page,
    Task,
    TaskErrorInfo,
    TaskOutput,
    TaskStatus,
    Upload,
    Usage,
)
from kirin_api.client.webhooks import verify_webhook

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
    "OutputContent",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "StreamUnsupported",
    "Task",
    "TaskErrorInfo",
    "TaskOutput",
    "TaskStatus",
    "Upload",
    "Usage",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "encode_image",
    "error_from_response",
    "verify_webhook",
]
