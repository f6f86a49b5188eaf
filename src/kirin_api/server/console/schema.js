// Reading the models' JSON Schemas (GET /model/v1/models) into field descriptions the form
// can draw. Only the shapes these schemas use are understood: $ref to $defs, anyOf with null
// (optional), anyOf of a string enum and an integer enum (numbers the seeds type as strings),
// anyOf of a digit string and an integer (element ids), objects, arrays, enums, consts.

export function resolve(node, root) {
  let current = node;
  const seen = new Set();
  while (current && current.$ref && !seen.has(current.$ref)) {
    seen.add(current.$ref);
    const name = current.$ref.replace(/^#\/\$defs\//, "");
    const target = (root.$defs || {})[name] || {};
    const { $ref, ...rest } = current;
    current = { ...target, ...rest };
  }
  return current || {};
}

const isNull = (node) => node && node.type === "null";

/** A field's kind: what widget draws it and how its value is read. */
export function describe(name, node, root, required) {
  let schema = resolve(node, root);
  let nullable = false;
  if (Array.isArray(schema.anyOf) && schema.anyOf.some(isNull)) {
    // Optional: the outer title, description and default over the one real option (which
    // keeps an anyOf of its own, such as an image's URL-or-base64).
    const others = schema.anyOf.filter((option) => !isNull(option));
    const { anyOf, ...outer } = schema;
    nullable = true;
    schema = others.length === 1 ? { ...resolve(others[0], root), ...outer } : { ...outer, anyOf: others };
  }
  const field = {
    name,
    title: schema.title || name,
    description: schema.description || "",
    required,
    nullable,
    default: schema.default,
    schema,
    kind: "string",
  };
  const options = Array.isArray(schema.anyOf) ? schema.anyOf.map((o) => resolve(o, root)) : [];
  if (schema.const !== undefined && !nullable) {
    field.kind = "const";
  } else if (schema.const !== undefined) {
    field.kind = "enum"; // an optional constant (shot_type): it or nothing
    field.options = [String(schema.const)];
  } else if (options.length && options.every((o) => Array.isArray(o.enum))) {
    // e.g. duration: ["5", "10"] or [5, 10]; shown as one list, sent as a number.
    field.kind = "enum";
    field.options = [...new Set(options.flatMap((o) => o.enum.map(String)))];
    field.numeric = options.some((o) => o.type === "integer");
  } else if (Array.isArray(schema.enum)) {
    field.kind = "enum";
    field.options = schema.enum.map(String);
    field.numeric = schema.type === "integer" || schema.type === "number";
  } else if (options.some((o) => o.type === "integer") && options.some((o) => o.type === "string")) {
    field.kind = "id"; // element ids: digits, sent as a string so 64-bit ids stay exact
  } else if (schema.type === "boolean") {
    field.kind = "boolean";
  } else if (schema.type === "number" || schema.type === "integer") {
    field.kind = "number";
  } else if (schema.type === "object") {
    field.kind = "object";
    const req = new Set(schema.required || []);
    field.fields = Object.entries(schema.properties || {}).map(([key, sub]) =>
      describe(key, sub, root, req.has(key)),
    );
  } else if (schema.type === "array") {
    field.kind = "array";
    field.item = describe("item", schema.items || {}, root, true);
    field.minItems = schema.minItems ?? 0;
    field.maxItems = schema.maxItems ?? Infinity;
  } else if (schema.type === "string") {
    field.kind = mediaKind(name, schema) || "string";
  }
  return field;
}

/**
 * Whether a string field is an image or a video. Images are the fields that take raw base64
 * besides a URL (the only inline media of the API); videos are URL fields named for a video.
 */
export function mediaKind(name, schema) {
  const options = Array.isArray(schema.anyOf) ? schema.anyOf : [];
  const takesBase64 = options.some(
    (option) => typeof option.pattern === "string" && option.pattern.includes("A-Za-z0-9+/"),
  );
  if (takesBase64) return "image";
  if (schema.format === "uri" && /video/.test(name)) return "video";
  return null;
}

/** The fields of a model's request body (the "model" const left out). */
export function modelFields(model) {
  const root = model.parameters;
  const required = new Set(root.required || []);
  return Object.entries(root.properties || {})
    .filter(([name]) => name !== "model")
    .map(([name, node]) => describe(name, node, root, required.has(name)));
}

/** Short hints from a field's rules that its description does not already give. */
export function hints(field) {
  const s = field.schema;
  const said = field.description || "";
  const parts = [];
  const add = (text, number) => {
    if (!said.includes(String(number))) parts.push(text);
  };
  if (field.kind === "string" && s.maxLength) {
    if (s.minLength > 1) add(`${s.minLength} to ${s.maxLength} characters`, s.maxLength);
    else add(`at most ${s.maxLength} characters`, s.maxLength);
  }
  if (field.kind === "number" && s.minimum !== undefined && s.maximum !== undefined) {
    add(`${s.minimum} to ${s.maximum}`, s.maximum);
  }
  if (field.kind === "array" && Number.isFinite(field.maxItems)) {
    add(`${field.minItems} to ${field.maxItems} items`, field.maxItems);
  }
  if (field.default !== undefined && field.default !== null && field.kind !== "object") {
    parts.push(`default ${JSON.stringify(field.default)}`);
  }
  return parts.join("; ");
}
