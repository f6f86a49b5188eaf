"""The pieces of the OpenAPI document that FastAPI cannot derive: error bodies, which statuses
each operation answers, the task object, and an example create request per model."""

from __future__ import annotations

from typing import Any

_JSON = "application/json"

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every non-2xx answer of the Kirin dialect",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["invalid_parameter"]},
                    "message": {"type": "string"},
                    "param": {"type": "string", "description": "Dotted path of the parameter"},
                },
            }
        },
    },
    "KlingError": {
        "type": "object",
        "description": "Every error of the Kling dialect, with Kling's codes",
        "required": ["code", "message", "request_id"],
        "properties": {
            "code": {"type": "integer", "examples": [1201]},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
        },
    },
    "KlingEnvelope": {
        "type": "object",
        "required": ["code", "message", "request_id", "data"],
        "properties": {
            "code": {"type": "integer", "const": 0},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "data": {},
        },
    },
    "VtrixEnvelope": {
        "type": "object",
        "description": "The Vtrix CLI's envelope; errors have data null and status.code >= 400",
        "required": ["data", "status"],
        "properties": {
            "data": {},
            "status": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
    },
}

_NULLABLE_INT = {"type": ["integer", "null"]}

TASK_SCHEMAS: dict[str, Any] = {
    "Task": {
        "type": "object",
        "description": "A generation task (docs/api.md)",
        "required": ["id", "object", "model", "status", "progress", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "const": "generation.task"},
            "model": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["pending", "processing", "completed", "failed", "cancelled"],
            },
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "completed_at": _NULLABLE_INT,
            "external_task_id": {"type": ["string", "null"]},
            "error": {
                "type": "object",
                "description": "Only when failed; message and error_message carry one text",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "error_message": {"type": "string"},
                },
            },
            "output": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Content"},
                        },
                        "jobId": {"type": "string"},
                    },
                },
            },
            "usage": {
                "type": "object",
                "properties": {"cost": {"type": "string"}, "discount": {"type": "number"}},
            },
            "metadata": {"type": "object"},
        },
    },
    "Content": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["video", "element"]},
            "url": {"type": "string"},
            "watermark_url": {"type": "string"},
            "duration": {"type": ["number", "string"]},
            "element_id": {"type": "integer"},
        },
    },
    "TaskList": {
        "type": "object",
        "required": ["object", "data", "next_cursor"],
        "properties": {
            "object": {"type": "string", "const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}

_PNG = "iVBORw0KGgo... (raw base64 of a PNG or JPEG, at least 300x300)"
CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "kirin_v1_t2v": {
        "model": "kirin_v1_t2v",
        "prompt": "a red fox running through snow",
        "duration": "5",
        "aspect_ratio": "16:9",
        "camera_control": {"type": "simple", "config": {"zoom": -5}},
    },
    "kirin_v1_i2v": {
        "model": "kirin_v1_i2v",
        "image": "https://example.com/first.png",
        "image_tail": "https://example.com/last.png",
        "prompt": "the sun sets",
    },
    "kirin_v1_6_multi_i2v": {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "two friends meet in a park",
        "image_list": [{"image": "https://example.com/a.png"}, {"image": _PNG}],
        "aspect_ratio": "9:16",
    },
    "kirin_v3_i2v": {
        "model": "kirin_v3_i2v",
        "image": "https://example.com/dancer.png",
        "duration": "6",
        "sound": "on",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "wide shot of the stage", "duration": "3"},
            {"index": 2, "prompt": "close up of the dancer", "duration": "3"},
        ],
    },
    "kirin_v3_motion_control": {
        "model": "kirin_v3_motion_control",
        "image_url": "https://example.com/character.png",
        "video_url": "https://example.com/dance.mp4",
        "character_orientation": "video",
        "mode": "std",
        "keep_original_sound": "yes",
    },
    "kirin_custom_elements": {
        "model": "kirin_custom_elements",
        "element_name": "fox",
        "element_description": "a red fox",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": "https://example.com/fox-front.png",
            "refer_images": [{"image_url": "https://example.com/fox-side.png"}],
        },
    },
}

_DESCRIPTIONS = {
    "400": "A parameter breaks a rule, or the body is not a JSON object",
    "401": "No key, or an unknown, malformed or revoked key",
    "402": "The account's balance cannot cover the task",
    "403": "The signature of the URL is wrong or expired",
    "404": "No such thing for this account",
    "405": "Method not allowed on this path",
    "409": "external_task_id already used, or the task has finished",
    "413": "The body is over the server's limit",
    "429": "Over the request rate or the account's unfinished-task limit (Retry-After)",
    "500": "A bug; the message carries a request id",
    "503": "The database or storage cannot be reached",
}
_SCHEMA_BY_DIALECT = {"kirin": "Error", "kling": "KlingError", "vtrix": "VtrixEnvelope"}


def _dialect(path: str) -> str:
    if path.startswith("/v1/"):
        return "kling"
    if path.startswith("/api/v1/skill/"):
        return "vtrix"
    return "kirin"


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    parameters = operation.get("parameters", [])
    statuses = {"500"}
    dialect = _dialect(path)
    if dialect == "kling" or path.startswith("/model/v1/"):
        statuses |= {"401", "429", "503"}
    if path.startswith("/admin/"):
        statuses |= {"401", "404", "503"}  # 404: the admin API is off
    if (
        any(p["in"] == "query" for p in parameters)
        or "requestBody" in operation
        or (method == "post")
    ):
        statuses.add("400")
    if any(p["in"] == "path" for p in parameters):
        statuses.add("404")
    if method == "post" and not path.endswith("/cancel"):
        statuses.add("413")
    extra = {
        ("post", "/model/v1/generation"): {"402", "409"},
        ("post", "/model/v1/generation/task/{task_id}/cancel"): {"409"},
        ("get", "/files/{key}"): {"403", "404"},
        ("get", "/uploads/{name}"): {"403", "404"},
        ("get", "/readyz"): {"503"},
        ("get", "/api/v1/skill/models"): {"400"},
    }.get((method, path), set())
    if (
        dialect == "kling"
        and method == "get"
        and any(p["name"] == "external_task_id" for p in parameters)
    ):
        extra = extra | {"404"}
    if dialect == "kling" and method == "post":
        extra = extra | {"409", "429"}
    return statuses | extra


def error_responses(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The error answers of one operation, each with its dialect's error body."""
    schema = {"$ref": f"#/components/schemas/{_SCHEMA_BY_DIALECT[_dialect(path)]}"}
    if path == "/readyz":
        schema = {"type": "object"}
    responses: dict[str, Any] = {}
    for status in sorted(_statuses(path, method, operation)):
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {_JSON: {"schema": schema}},
        }
        if status == "429":
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
            }
        responses[status] = response
    return responses
