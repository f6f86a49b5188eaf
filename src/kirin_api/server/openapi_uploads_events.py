"""The OpenAPI shapes of uploads, live events and ``Prefer: wait`` (see
:mod:`kirin_api.server.openapi`)."""

from __future__ import annotations

from typing import Any

_BINARY = {"type": "string", "format": "binary"}
UPLOAD_TYPES = ("image/png", "image/jpeg", "video/mp4", "video/quicktime")

UPLOAD_SCHEMAS: dict[str, Any] = {
    "Upload": {
        "type": "object",
        "description": "A local file kept a while as an input; its url works in any image or "
        "video parameter (docs/api.md, Uploads)",
        "required": ["id", "object", "url", "kind", "bytes", "width", "height", "expires_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^upl_"},
            "object": {"type": "string", "enum": ["upload"]},
            "url": {"type": "string"},
            "kind": {"type": "string", "enum": ["image", "video"]},
            "content_type": {"type": "string", "enum": list(UPLOAD_TYPES)},
            "bytes": {"type": "integer"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "duration": {"type": ["number", "null"], "description": "Seconds (videos)"},
            "created_at": {"type": "integer"},
            "expires_at": {"type": "integer"},
        },
    },
    "UploadDeleted": {
        "type": "object",
        "required": ["id", "object", "deleted"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["upload"]},
            "deleted": {"type": "boolean", "enum": [True]},
        },
    },
}

UPLOAD_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "A JPEG/PNG image (at most 10 MB) or an MP4/MOV video (at most 100 MB), "
    "checked by decoding: as the part `file` of a multipart form, or as the body itself",
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"], "properties": {"file": _BINARY}}
        },
        **{content_type: {"schema": _BINARY} for content_type in UPLOAD_TYPES},
    },
}

UPLOAD_CONTENT_RESPONSE: dict[str, Any] = {
    "description": "The uploaded file",
    "content": {content_type: {"schema": _BINARY} for content_type in UPLOAD_TYPES},
}

EVENTS_RESPONSES: dict[str, Any] = {
    "200": {
        "description": "Server-Sent Events: `event: task` with the task object as `data`, at "
        "once and on every change of status or progress (at most every 250 ms); the stream "
        "ends after a finished status; comment lines keep it open while idle",
        # Before OpenAPI 3.2 (itemSchema), the schema of an event stream describes one event.
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["task"]},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/Task"},
                        },
                        "id": {"type": "string"},
                        "retry": {"type": "integer"},
                    },
                }
            }
        },
    },
    "204": {"description": "Last-Event-ID names the task's finished state: nothing more to send"},
}

PREFER_PARAMETER: dict[str, Any] = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "wait=N (N <= 60): answer once the task has finished or N seconds have "
    "passed (RFC 7240)",
    "schema": {"type": "string", "pattern": "^.{0,200}$"},
}

PREFERENCE_APPLIED: dict[str, Any] = {
    "Preference-Applied": {
        "description": "wait=N where Prefer: wait was applied",
        "schema": {"type": "string"},
    }
}
