"""Model specs for the Vtrix CLI, derived from the models' JSON Schemas (``model_schemas()``).

The CLI builds a request only from the parameters a spec lists (others are dropped without a
word), coerces each ``--param k=v`` by the parameter's ``type`` (``string``, ``int``, ``float``,
``boolean``, ``array``: a JSON array, ``object``: its ``children`` by dotted names), checks
``constraints.enum`` against the raw text, and decodes ``enum`` as a list of strings and
``min_length``/``max_length``/``max_items`` as integers (anything else fails the whole spec).
So every parameter of the schema is listed, enums are strings, and a number that the contract
accepts as a string or an integer (``duration``) is a ``string`` with string options, which the
contract accepts as they are.
"""

from __future__ import annotations

from typing import Any

# JSON Schema type -> the CLI's type names.
_TYPES = {
    "string": "string",
    "integer": "int",
    "number": "float",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
_VENDOR = "Kuaishou (Kling), served by kirin-api"


def model_summary(schema: dict[str, Any]) -> dict[str, Any]:
    """One entry of the spec service's model list."""
    inputs, outputs = _modalities(schema)
    return {
        "id": schema["id"],
        "name": _name(schema),
        "type": "element" if outputs == ["element"] else "video",
        "description": schema["description"],
        "input_modalities": inputs,
        "output_modalities": outputs,
    }


def model_spec(schema: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The spec of one model (``GET /api/v1/skill/models/{id}/spec``'s ``data``)."""
    body = schema["parameters"]
    parameters = _parameters(body, body, prefix="")
    summary = model_summary(schema)
    return {
        "model_id": schema["id"],
        "name": summary["name"],
        "vendor": _VENDOR,
        "type": summary["type"],
        "api": {"endpoint": endpoint, "method": "POST", "headers": {}},
        "parameters": parameters,
        "agent_prompt": _agent_prompt(schema, endpoint, parameters),
    }


def _name(schema: dict[str, Any]) -> str:
    description: str = schema["description"]
    return description.split(":", 1)[0]


def _modalities(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    names = _property_names(schema["parameters"], schema["parameters"])
    inputs = [
        kind
        for kind, found in (
            ("text", any("prompt" in n for n in names)),
            ("image", any("image" in n or "mask" in n for n in names)),
            ("video", any("video" in n for n in names)),
        )
        if found
    ]
    outputs = ["element"] if schema["id"].endswith("_elements") else ["video"]
    return inputs, outputs


def _property_names(node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    node = _resolve(node, root)
    names: list[str] = []
    for name, child in (node.get("properties") or {}).items():
        if name == "model":
            continue
        names.append(name)
        names.extend(_property_names(child, root))
    if "items" in node:
        names.extend(_property_names(node["items"], root))
    return names


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``node`` with ``$ref`` followed and a nullable ``anyOf`` reduced to its non-null part;
    the node's own annotations (description, default) are kept over the target's."""
    while True:
        if "$ref" in node:
            target = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1 and "type" not in node:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**options[0], **rest}
            continue
        return node


def _parameters(node: dict[str, Any], root: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    node = _resolve(node, root)
    required = set(node.get("required") or [])
    return [
        _parameter(name, child, root, prefix, name in required)
        for name, child in (node.get("properties") or {}).items()
        if name != "model"
    ]


def _parameter(
    name: str, node: dict[str, Any], root: dict[str, Any], prefix: str, required: bool
) -> dict[str, Any]:
    node = _resolve(node, root)
    path = f"{prefix}{name}"
    kind, enum = _type_and_enum(node)
    constraints: dict[str, Any] = {}
    if enum:
        constraints["enum"] = enum
    if "default" in node and node["default"] is not None:
        # Options are strings; so is the default among them (duration: "5", not 5).
        constraints["default"] = _text(node["default"]) if enum else node["default"]
    for ours, theirs in (("minimum", "min"), ("maximum", "max")):
        if ours in node:
            constraints[theirs] = float(node[ours])
    for ours, theirs in (
        ("minLength", "min_length"),
        ("maxLength", "max_length"),
        ("maxItems", "max_items"),
    ):
        if ours in node:
            constraints[theirs] = int(node[ours])
    parameter: dict[str, Any] = {
        "name": name,
        "path": path,
        "type": kind,
        "required": required,
        "description": node.get("description", ""),
    }
    if constraints:
        parameter["constraints"] = constraints
    if enum:
        parameter["example"] = enum[0]
    elif constraints.get("default") is not None:
        parameter["example"] = constraints["default"]
    if kind == "object":
        parameter["children"] = _parameters(node, root, f"{path}.")
    elif kind == "array" and isinstance(node.get("items"), dict):
        item = _resolve(node["items"], root)
        if item.get("type") == "object":
            parameter["children"] = _parameters(item, root, f"{path}[].")
    return parameter


def _type_and_enum(node: dict[str, Any]) -> tuple[str, list[str]]:
    """The CLI's type of a schema node, and its options as strings. A choice between string and
    integer options (``duration``: ``"5"`` or ``5``) is a string with the string options."""
    if "const" in node:
        return _TYPES.get(node.get("type", "string"), "string"), [_text(node["const"])]
    options = node.get("anyOf") or node.get("oneOf") or []
    if "type" not in node and options:
        types = [o.get("type") for o in options if o.get("type") != "null"]
        enum = [_text(v) for o in options for v in o.get("enum", [])]
        kind = "string" if "string" in types else _TYPES.get(str(types[0]), "string")
        return kind, list(dict.fromkeys(enum))
    kind = _TYPES.get(str(node.get("type", "string")), "string")
    return kind, [_text(v) for v in node.get("enum", [])]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _agent_prompt(schema: dict[str, Any], endpoint: str, parameters: list[dict[str, Any]]) -> str:
    """A plain-text guide to the model for a person or an agent (``vtrix models spec``)."""
    lines = [
        f"{schema['id']}: {schema['description']}.",
        f'Create a task: POST {endpoint} with {{"model": "{schema["id"]}", ...parameters}} '
        "and 'Authorization: Bearer <api key>'; poll GET "
        f"{endpoint}/task/<id> until status is completed or failed.",
        "Parameters:",
    ]
    lines.extend(_describe(parameters, depth=0))
    return "\n".join(lines)


def _describe(parameters: list[dict[str, Any]], depth: int) -> list[str]:
    lines = []
    for p in parameters:
        facts = [p["type"], "required" if p["required"] else "optional"]
        constraints = p.get("constraints", {})
        if "enum" in constraints:
            facts.append("one of " + ", ".join(constraints["enum"]))
        if "min" in constraints or "max" in constraints:
            facts.append(f"{constraints.get('min', '')}..{constraints.get('max', '')}")
        if "default" in constraints:
            facts.append(f"default {constraints['default']}")
        lines.append(f"{'  ' * depth}- {p['path']} ({'; '.join(facts)}): {p['description']}")
        lines.extend(_describe(p.get("children", []), depth + 1))
    return lines
