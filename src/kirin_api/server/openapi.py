"""The OpenAPI document, made to tell the truth about the server.

FastAPI's own document lists ``200`` and a ``422`` this server never sends, leaves the error
envelopes out, and nests the models' ``$defs`` where OpenAPI tools cannot resolve them. This
module rewrites it once, when first asked:

- every operation lists each status it can answer, with its dialect's error body as a named
  component (``Error`` for the Kirin dialect, ``KlingError``, ``VtrixEnvelope``);
- each model's request body is a component (``KirinV1T2VRequest`` ...) whose ``$defs`` are
  components too, and the create body is a ``oneOf`` discriminated by ``model``, with an example
  per model; the Kling create bodies are the same models with ``model_name`` instead of ``model``;
- task answers have a ``Task`` schema (and ``TaskList``), so generated clients get types.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kirin_api.contract.kling_products import PRODUCTS
from kirin_api.contract.registry import model_schemas, served_models
from kirin_api.contract.status import TaskStatus
from kirin_api.server.openapi_shapes import (
    CREATE_EXAMPLES,
    ERROR_SCHEMAS,
    TASK_SCHEMAS,
    error_responses,
)
from kirin_api.server.openapi_uploads_events import (
    EVENTS_RESPONSES,
    PREFER_PARAMETER,
    PREFERENCE_APPLIED,
    UPLOAD_CONTENT_RESPONSE,
    UPLOAD_REQUEST_BODY,
    UPLOAD_SCHEMAS,
)

_REF = re.compile(r"#/\$defs/")
_JSON = "application/json"


def install_openapi(app: FastAPI) -> None:
    """Replace the app's ``openapi()`` with the rewritten document (built once)."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            base = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=_TAGS,
            )
            built.update(rewrite(base))
        return built

    app.openapi = openapi  # type: ignore[method-assign]


_TAGS = [
    {"name": "generation", "description": "Tasks in the Kirin dialect (docs/api.md)"},
    {"name": "elements", "description": "The account's subjects for element_list"},
    {"name": "models", "description": "The models served and their parameters"},
    {"name": "callbacks", "description": "Signing secret and deliveries of callbacks"},
    {"name": "uploads", "description": "Local files kept a while to be given as inputs"},
    {"name": "files", "description": "Results behind signed URLs"},
    {"name": "health", "description": "Liveness and readiness"},
    {"name": "kling", "description": "The official Kling API's dialect (docs/dialects.md)"},
    {"name": "vtrix-cli", "description": "The Vtrix CLI's spec service (docs/dialects.md)"},
]


def rewrite(document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    # FastAPI's own components (the admin API's bodies ...), less the validation errors of a
    # 422 this server never sends.
    generated = doc.get("components", {}).get("schemas", {})
    schemas: dict[str, Any] = {
        name: schema
        for name, schema in generated.items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    bodies = {m["id"]: _component(schemas, m["parameters"]) for m in model_schemas()}
    schemas.update(copy.deepcopy(ERROR_SCHEMAS))
    schemas.update(copy.deepcopy(TASK_SCHEMAS))
    schemas.update(copy.deepcopy(UPLOAD_SCHEMAS))
    schemas.update(_kling_bodies(schemas, bodies))
    doc["components"] = {"schemas": schemas}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            _fix_operation(path, method, operation, bodies)
    return doc


def _component(schemas: dict[str, Any], body: dict[str, Any]) -> str:
    """Add a model's body schema (its ``$defs`` hoisted) to ``schemas``; its component name."""
    schema = copy.deepcopy(body)
    schema.pop("$schema", None)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, _loosen_urls(_refs_to_components(definition)))
    name = _camel(schema["title"]) + "Request"
    schema["title"] = name
    schemas[name] = _loosen_urls(_refs_to_components(schema))
    return name


def _refs_to_components(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                _REF.sub("#/components/schemas/", value)
                if key == "$ref"
                else _refs_to_components(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_refs_to_components(item) for item in node]
    return node


def _camel(model: str) -> str:
    return "".join(part.capitalize() for part in model.split("_"))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _kling_bodies(schemas: dict[str, Any], bodies: dict[str, str]) -> dict[str, Any]:
    """For each Kling product and model: the Kirin body with ``model_name`` for ``model``."""
    out: dict[str, Any] = {}
    for product in PRODUCTS:
        for model in product.models:
            kirin = copy.deepcopy(schemas[bodies[model]])
            properties = kirin["properties"]
            properties.pop("model")
            kirin["required"] = [r for r in kirin.get("required", []) if r != "model"]
            if product.model_names is not None:
                names = [n for n, m in product.model_names.items() if m == model]
                properties = {
                    "model_name": {
                        "type": ["string", "null"],
                        "enum": [*names, None],
                        "description": f"Kling's model name; default {product.default_name}",
                    },
                    **properties,
                }
            kirin["properties"] = properties
            name = "Kling" + _camel(model) + "Request"
            kirin["title"] = name
            kirin["description"] = f"{product.path}: {kirin.get('description', model)}"
            out[name] = kirin
    return out


def _fix_operation(
    path: str, method: str, operation: dict[str, Any], bodies: dict[str, str]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        _describe_parameter(path, parameter)
    for status, response in error_responses(path, method, operation).items():
        responses.setdefault(status, response)
    success = _SUCCESS.get((method, _template(path)))
    if success is not None:
        responses["200"]["content"] = {_JSON: {"schema": _ref(success)}}
    if method == "post" and path == "/model/v1/generation":
        operation["requestBody"] = {
            "required": True,
            "content": {
                _JSON: {
                    "schema": {
                        "oneOf": [_ref(name) for name in bodies.values()],
                        "discriminator": {
                            "propertyName": "model",
                            "mapping": {m: f"#/components/schemas/{n}" for m, n in bodies.items()},
                        },
                    },
                    "examples": {
                        model: {"summary": model, "value": example}
                        for model, example in CREATE_EXAMPLES.items()
                    },
                }
            },
        }
    if method == "post" and path == "/model/v1/uploads":
        operation["requestBody"] = copy.deepcopy(UPLOAD_REQUEST_BODY)
    if method == "get" and path == "/model/v1/generation/task/{task_id}/events":
        responses.update(copy.deepcopy(EVENTS_RESPONSES))
    if method == "post" and path == "/model/v1/generation":
        operation.setdefault("parameters", []).append(copy.deepcopy(PREFER_PARAMETER))
        responses["200"]["headers"] = copy.deepcopy(PREFERENCE_APPLIED)
    if method == "get" and path == "/uploads/{name}":
        responses["200"] = copy.deepcopy(UPLOAD_CONTENT_RESPONSE)
    product = next((p for p in PRODUCTS if p.path == path), None)
    if method == "post" and product is not None:
        refs = [_ref("Kling" + _camel(model) + "Request") for model in product.models]
        operation["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}},
        }


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _describe_parameter(path: str, parameter: dict[str, Any]) -> None:
    """What FastAPI cannot know: the form of opaque values, the values of filters."""
    name = parameter["name"]
    if name == "cursor":
        parameter["schema"] = {
            "type": "string",
            "pattern": _CURSORS["elements" if "elements" in path else "tasks"],
            "description": "The next_cursor of the previous page, unchanged (empty: the first)",
        }
    elif name == "status" and path == "/model/v1/generation/tasks":
        parameter["schema"] = {"type": "string", "enum": [s.value for s in TaskStatus]}
    elif name == "model" and path == "/model/v1/generation/tasks":
        parameter["schema"] = {"type": "string", "enum": served_models()}


# The form of the cursors the store hands out (see kirin_api.store.queries).
_CURSORS = {
    "tasks": r"^(task_[0-9A-Za-z]{1,60})?$",
    "elements": r"^([0-9]{1,12}(\.[0-9]{1,9})?_[0-9]{1,18})?$",
}


def _loosen_urls(node: Any) -> Any:
    """Drop ``format: uri``: the server takes any http(s) URL its pattern allows (host names
    in any script included), which is more than RFC 3986's ``uri`` lets through."""
    if isinstance(node, dict):
        return {k: _loosen_urls(v) for k, v in node.items() if not (k == "format" and v == "uri")}
    if isinstance(node, list):
        return [_loosen_urls(item) for item in node]
    return node


# The success bodies FastAPI cannot name (the routes answer plain dicts).
_SUCCESS: dict[tuple[str, str], str] = {
    ("post", "/model/v1/generation"): "Task",
    ("get", "/model/v1/generation/task/{}"): "Task",
    ("post", "/model/v1/generation/task/{}/cancel"): "Task",
    ("get", "/model/v1/generation/tasks"): "TaskList",
    ("post", "/model/v1/uploads"): "Upload",
    ("get", "/model/v1/uploads/{}"): "Upload",
    ("delete", "/model/v1/uploads/{}"): "UploadDeleted",
}
