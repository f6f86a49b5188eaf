"""Our exception tree and the error codes of the API.

Every failure that reaches a client is one of these. Foreign exceptions (SQLAlchemy, PyAV,
httpx, OSError, ...) are translated into this tree at the boundary where they happen, so the
server needs exactly one handler that maps :class:`RequestError` to HTTP:

- :class:`RequestError` — a request is refused; carries the HTTP status, the code, a message that
  says what was wrong and what is allowed, and the dotted ``param`` at fault where there is one.
  Subclasses fix the status and code (``InvalidParameter`` = 400 ``invalid_parameter`` ...).
- :class:`TaskFailure` — a task fails; carries the nine-digit code of its model
  (``task_error_code``) and a message naming the parameter and the rule where the inputs were
  at fault.
"""

from __future__ import annotations

from enum import StrEnum


class KirinError(Exception):
    """Base of every error this package raises on purpose."""


class RequestError(KirinError):
    """A request that the API refuses: becomes ``{"error": {code, message, param}}``."""

    status: int = 400
    code: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


class InvalidRequest(RequestError):
    status, code = 400, "invalid_request"


class InvalidParameter(RequestError):
    status, code = 400, "invalid_parameter"


class InvalidMedia(RequestError):
    status, code = 400, "invalid_media"


class Unauthorized(RequestError):
    status, code = 401, "unauthorized"


class InsufficientBalance(RequestError):
    status, code = 402, "insufficient_balance"


class NotFound(RequestError):
    status, code = 404, "not_found"


class MethodNotAllowed(RequestError):
    status, code = 405, "method_not_allowed"


class Conflict(RequestError):
    status, code = 409, "conflict"


class PayloadTooLarge(RequestError):
    status, code = 413, "payload_too_large"


class TooManyRequests(RequestError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class ConcurrencyLimited(TooManyRequests):
    """429 because the account is at its limit of unfinished tasks (not its request rate):
    dialects that tell the two apart (Kling: 1303 against 1302) read this class."""


class InternalError(RequestError):
    status, code = 500, "internal_error"


class Unavailable(RequestError):
    status, code = 503, "unavailable"


class TaskErrorKind(StrEnum):
    """The last three digits of a task's error code (API.md "Errors of a task")."""

    RESOURCE_INSUFFICIENT = "094"
    INTERNAL = "095"
    RESULT_PARSING = "096"
    HTTP_ERROR = "097"
    STATUS_CHECK = "098"
    TASK_CREATION = "099"


# The first six digits of each model's task error codes; the seeds give the first three rows,
# the others follow the same scheme (API.md).
TASK_CODE_PREFIX: dict[str, str] = {
    "kirin_v1_t2v": "002001",
    "kirin_v1_i2v": "002002",
    "kirin_v1_6_multi_i2v": "002003",
    "kirin_v3_i2v": "006001",
    "kirin_v3_motion_control": "006002",
    "kirin_custom_elements": "006003",
}


def task_error_code(model: str, kind: TaskErrorKind) -> str:
    """The nine-digit code of ``kind`` for ``model`` (``002001095`` ...)."""
    return TASK_CODE_PREFIX[model] + kind.value


class TaskFailure(KirinError):
    """A task that cannot be completed; the worker records it as ``failed`` with this code."""

    def __init__(self, kind: TaskErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
