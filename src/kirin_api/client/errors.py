"""Every error the SDK raises, in one tree.

::

    KirinError                      anything raised by this SDK
    ├── APIError                    the server answered with a non-2xx status
    │   ├── BadRequestError             400 invalid_request / invalid_parameter / invalid_media
    │   ├── AuthenticationError         401 unauthorized
    │   ├── InsufficientBalanceError    402 insufficient_balance
    │   ├── PermissionDeniedError       403 forbidden (a tampered or expired result URL)
    │   ├── NotFoundError               404 not_found
    │   ├── ConflictError               409 conflict
    │   ├── PayloadTooLargeError        413 payload_too_large
    │   ├── RateLimitError              429 too_many_requests (``retry_after`` from the header)
    │   └── InternalServerError         500 and any other 5xx
    │       └── ServiceUnavailableError     503 unavailable
    ├── APIConnectionError          no answer: connection refused/reset, DNS, protocol errors
    │   └── RequestTimeoutError         (also an APITimeoutError) an HTTP request timed out
    ├── APITimeoutError             something ran out of time
    │   ├── RequestTimeoutError         see above
    │   └── WaitTimeoutError            ``wait()`` passed its timeout; ``task`` is the last seen
    ├── NoResultError               (also a ValueError) the task has no video to download
    └── WebhookVerificationError    a callback's signature or timestamp does not check out

httpx's exceptions never escape: they are translated at the transport boundary and chained as
``__cause__``. :func:`error_from_response` is the one place where an HTTP answer becomes a class.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kirin_api.client.types import Task

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "KirinError",
    "NoResultError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServiceUnavailableError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "error_from_response",
    "parse_retry_after",
]


class KirinError(Exception):
    """Base class of every error this SDK raises."""


class APIError(KirinError):
    """The server answered with a non-2xx status and (usually) the error envelope.

    Attributes mirror ``{"error": {"code", "message", "param"}}``; ``param`` is the dotted path
    of the parameter at fault (``camera_control.config.pan``) where there is one.
    """

    default_code = "error"

    def __init__(
        self,
        status_code: int,
        code: str | None,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code or self.default_code
        self.message = message
        self.param = param
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{self.status_code} {self.code}{where}: {self.message}{rid}"


class BadRequestError(APIError):
    """400: the body or a parameter breaks a rule; ``param`` names it."""

    default_code = "invalid_request"


class AuthenticationError(APIError):
    """401: no key, a malformed key, or an unknown or revoked one."""

    default_code = "unauthorized"


class InsufficientBalanceError(APIError):
    """402: the account's balance cannot cover the task's cost."""

    default_code = "insufficient_balance"


class PermissionDeniedError(APIError):
    """403: e.g. a result URL that was tampered with or has expired."""

    default_code = "forbidden"


class NotFoundError(APIError):
    """404: no such task or element for this account (or no such route)."""

    default_code = "not_found"


class ConflictError(APIError):
    """409: ``external_task_id`` already used, or cancelling a finished task."""

    default_code = "conflict"


class PayloadTooLargeError(APIError):
    """413: the request body is over the server's limit."""

    default_code = "payload_too_large"


class RateLimitError(APIError):
    """429: at the concurrent-task limit or over the request rate.

    ``retry_after`` is the server's hint in seconds (``None`` when it sent none).
    """

    default_code = "too_many_requests"

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait, from ``Retry-After``."""
        return parse_retry_after(self.headers)


class InternalServerError(APIError):
    """500 (and any 5xx without a class of its own): a bug or a broken gateway."""

    default_code = "internal_error"


class ServiceUnavailableError(InternalServerError):
    """503: the database or storage cannot be reached; worth retrying later."""

    default_code = "unavailable"


class APIConnectionError(KirinError):
    """No HTTP answer came back: refused, reset, DNS failure, broken protocol."""


class APITimeoutError(KirinError):
    """Something ran out of time: an HTTP request, or a :meth:`wait`."""


class RequestTimeoutError(APITimeoutError, APIConnectionError):
    """An HTTP request timed out (connect, read, write or pool)."""


class WaitTimeoutError(APITimeoutError):
    """``wait()`` passed its timeout before the task finished.

    ``task`` is the last state seen, so a caller can report its progress or keep waiting.
    """

    def __init__(self, message: str, task: Task) -> None:
        super().__init__(message)
        self.task = task


class NoResultError(KirinError, ValueError):
    """The task has no video to download: not completed, or no watermarked copy was asked for."""


class WebhookVerificationError(KirinError):
    """A callback's headers, signature or timestamp do not check out; do not trust its body."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}
# The server puts the request id of a 500 into the message (it never sends a stack trace).
_REQUEST_ID_IN_MESSAGE = re.compile(r"request id ([0-9A-Za-z_-]+)")


def error_from_response(
    status_code: int, content: bytes, headers: Mapping[str, str] | None = None
) -> APIError:
    """The one mapping from an HTTP error answer to an exception instance.

    Reads the ``{"error": {...}}`` envelope where the body has one; a body without it (a proxy's
    HTML page, an empty 502) still gives the right class, with the body's start as the message.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    code: str | None = None
    param: str | None = None
    message = ""
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = _str_or_none(error.get("code"))
        param = _str_or_none(error.get("param"))
        message = _str_or_none(error.get("message")) or ""
    elif content:
        message = content[:500].decode("utf-8", errors="replace").strip()
    if not message:
        message = f"HTTP {status_code}"
    request_id = headers.get("x-request-id")
    if request_id is None and (found := _REQUEST_ID_IN_MESSAGE.search(message)):
        request_id = found.group(1)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIError
    return cls(status_code, code, message, param, request_id, headers)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or ``None``."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
