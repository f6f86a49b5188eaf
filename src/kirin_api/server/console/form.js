// A form drawn from a model's JSON Schema. Each widget has a node and read(path, ctx): the
// value to send (undefined: leave the parameter out). Reading registers, for each parameter
// path ("multi_prompt.2.duration"), where its error is shown, so that a 400's `param` lands
// next to its field.

import { h, uid } from "./dom.js";
import { mediaField } from "./media.js";
import { hints, modelFields } from "./schema.js";
import { motionBrush } from "./brush.js";

export class FormContext {
  constructor(api, { elementIds } = {}) {
    this.api = api;
    this.slots = new Map(); // path -> {slot, control}
    this.invalid = [];
    this.pending = new Set(); // uploads in flight
    this.elementIds = elementIds || null; // a <datalist> id with the subject library
  }

  register(path, slot, control) {
    this.slots.set(path, { slot, control });
  }

  reset() {
    for (const { slot, control } of this.slots.values()) {
      slot.textContent = "";
      slot.hidden = true;
      if (control) control.removeAttribute("aria-invalid");
    }
    this.slots.clear();
    this.invalid = [];
  }

  /** Show `message` at the field `param` names (or its nearest parent); false if none. */
  show(param, message) {
    let path = param || "";
    while (path) {
      const target = this.slots.get(path);
      if (target) {
        target.slot.textContent = message;
        target.slot.hidden = false;
        if (target.control) {
          target.control.setAttribute("aria-invalid", "true");
          target.control.focus({ preventScroll: false });
        }
        return true;
      }
      path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    }
    return false;
  }

  /** A control that the browser finds invalid (required, range, length): noted for later. */
  check(path, control) {
    if (control && control.checkValidity && !control.checkValidity()) {
      this.invalid.push({ path, message: control.validationMessage });
    }
  }
}

const join = (path, name) => (path ? `${path}.${name}` : String(name));

/** The label, hint and error slot around a control; returns {node, slot}. */
function frame(field, control, { label, extra, controlInExtra = false } = {}) {
  const hintId = uid("hint");
  const errorId = uid("err");
  const text = [field.description, hints(field)].filter(Boolean).join(" — ");
  const slot = h("p", { class: "field-error", id: errorId, hidden: true, "aria-live": "polite" });
  if (control) control.setAttribute("aria-describedby", `${hintId} ${errorId}`);
  const node = h(
    "div",
    { class: "field", dataset: { param: field.name } },
    h(
      "label",
      { for: control ? control.id : undefined },
      h("code", { text: label || field.name }),
      field.required ? h("span", { class: "req", text: " (required)" }) : null,
    ),
    controlInExtra ? null : control,
    extra,
    h("p", { class: "hint", id: hintId, text }),
    slot,
  );
  return { node, slot };
}

function stringField(field, ctx, label) {
  const s = field.schema;
  const id = uid("in");
  const long = /prompt|description/.test(field.name) && (s.maxLength || 0) >= 100;
  const control = long
    ? h("textarea", { id, rows: 3 })
    : h("input", { id, type: s.format === "uri" ? "url" : "text" });
  if (field.kind === "id") {
    control.setAttribute("inputmode", "numeric");
    control.setAttribute("pattern", "[1-9][0-9]{0,18}");
    if (ctx.elementIds) control.setAttribute("list", ctx.elementIds);
  }
  if (field.required) control.required = true;
  if (s.maxLength) control.setAttribute("maxlength", s.maxLength);
  if (s.minLength) control.setAttribute("minlength", s.minLength);
  if (typeof field.default === "string") control.value = field.default;
  const { node, slot } = frame(field, control, { label });
  return {
    node,
    control,
    read(path) {
      ctx.register(path, slot, control);
      ctx.check(path, control);
      return control.value === "" ? undefined : control.value;
    },
  };
}

function numberField(field, ctx, label) {
  const s = field.schema;
  const control = h("input", { id: uid("in"), type: "number", step: "any" });
  if (s.minimum !== undefined) control.min = s.minimum;
  if (s.maximum !== undefined) control.max = s.maximum;
  if (field.required) control.required = true;
  if (typeof field.default === "number") control.value = String(field.default);
  const { node, slot } = frame(field, control, { label });
  return {
    node,
    control,
    read(path) {
      ctx.register(path, slot, control);
      ctx.check(path, control);
      return control.value === "" ? undefined : Number(control.value);
    },
  };
}

function enumField(field, ctx, label) {
  const control = h("select", { id: uid("in") });
  const hasDefault = field.default !== undefined && field.default !== null;
  if (!field.required && !hasDefault) control.append(h("option", { value: "", text: "(not set)" }));
  if (field.required && !hasDefault) {
    control.append(h("option", { value: "", text: "(choose)" }));
    control.required = true;
  }
  for (const option of field.options) control.append(h("option", { value: option, text: option }));
  if (hasDefault) control.value = String(field.default);
  const { node, slot } = frame(field, control, { label });
  return {
    node,
    control,
    read(path) {
      ctx.register(path, slot, control);
      ctx.check(path, control);
      if (control.value === "") return undefined;
      return field.numeric && /^-?\d+(\.\d+)?$/.test(control.value)
        ? Number(control.value)
        : control.value;
    },
  };
}

function booleanField(field, ctx, label) {
  const control = h("input", { id: uid("in"), type: "checkbox", checked: field.default === true });
  const { node, slot } = frame(field, control, { label });
  node.classList.add("check");
  return {
    node,
    control,
    read(path) {
      ctx.register(path, slot, control);
      return control.checked;
    },
  };
}

function objectField(field, ctx, label) {
  const children = field.fields
    .filter((sub) => sub.kind !== "const")
    .map((sub) => ({ sub, widget: widgetFor(sub, ctx) }));
  const body = h("div", { class: "object-body" }, children.map((c) => c.widget.node));
  const errorSlot = h("p", { class: "field-error", hidden: true, "aria-live": "polite" });
  let include = null;
  if (field.nullable) {
    include = h("input", { id: uid("inc"), type: "checkbox" });
    body.hidden = true;
    include.addEventListener("change", () => {
      body.hidden = !include.checked;
    });
  }
  const legendText = label || field.name;
  const node = h(
    "fieldset",
    { class: "object", dataset: { param: field.name } },
    h("legend", {}, h("code", { text: legendText }), field.required ? " (required)" : ""),
    field.description ? h("p", { class: "hint", text: field.description }) : null,
    include
      ? h("div", { class: "field check" }, include, h("label", { for: include.id, text: `Set ${legendText}` }))
      : null,
    errorSlot,
    body,
  );
  return {
    node,
    control: include || (children[0] && children[0].widget.control),
    read(path) {
      ctx.register(path, errorSlot, include || null);
      if (include && !include.checked) return undefined;
      const value = {};
      for (const { sub, widget } of children) {
        const v = widget.read(join(path, sub.name), ctx);
        if (v !== undefined) value[sub.name] = v;
      }
      return value;
    },
  };
}

function arrayField(field, ctx, label) {
  const items = [];
  const list = h("ol", { class: "array-items" });
  const name = label || field.name;
  const add = h("button", { type: "button", class: "secondary", text: `Add to ${name}` });
  const errorSlot = h("p", { class: "field-error", hidden: true, "aria-live": "polite" });
  const refresh = () => {
    add.disabled = items.length >= field.maxItems;
    items.forEach((item, index) => {
      item.remove.disabled = field.required && items.length <= field.minItems;
      item.remove.textContent = `Remove ${name} ${index + 1}`;
      item.title.textContent = `${name} ${index + 1}`;
    });
  };
  const addItem = () => {
    const widget = widgetFor({ ...field.item, name: `${name} item` }, ctx, " ");
    const title = h("span", { class: "item-title" });
    const remove = h("button", { type: "button", class: "secondary small" });
    const li = h("li", {}, h("div", { class: "item-head" }, title, remove), widget.node);
    const item = { widget, li, remove, title };
    remove.addEventListener("click", () => {
      items.splice(items.indexOf(item), 1);
      li.remove();
      refresh();
      add.focus();
    });
    items.push(item);
    list.append(li);
    refresh();
    return item;
  };
  add.addEventListener("click", () => {
    const item = addItem();
    if (item.widget.control) item.widget.control.focus();
  });
  if (field.required) for (let i = 0; i < Math.max(field.minItems, 1); i += 1) addItem();
  refresh();
  const node = h(
    "fieldset",
    { class: "array", dataset: { param: field.name } },
    h("legend", {}, h("code", { text: name }), field.required ? " (required)" : ""),
    h("p", { class: "hint", text: [field.description, hints(field)].filter(Boolean).join(" — ") }),
    errorSlot,
    list,
    add,
  );
  return {
    node,
    control: add,
    addItem,
    read(path) {
      ctx.register(path, errorSlot, add);
      if (items.length === 0) return undefined;
      return items.map((item, index) => item.widget.read(join(path, index), ctx));
    },
  };
}

function widgetFor(field, ctx, label) {
  switch (field.kind) {
    case "object":
      return objectField(field, ctx, label);
    case "array":
      return arrayField(field, ctx, label);
    case "enum":
      return enumField(field, ctx, label);
    case "boolean":
      return booleanField(field, ctx, label);
    case "number":
      return numberField(field, ctx, label);
    case "image":
    case "video":
      return mediaField(field, ctx, { frame, label });
    default:
      return stringField(field, ctx, label);
  }
}

/**
 * The whole form of a model: {node, read() -> body, widgets}. A model with a motion brush
 * (static_mask and dynamic_masks beside an image) gets the brush editor in place of those two
 * parameters.
 */
export function modelForm(model, ctx) {
  const fields = modelFields(model);
  const names = new Set(fields.map((f) => f.name));
  const brushed = names.has("dynamic_masks") && names.has("static_mask") && names.has("image");
  const widgets = new Map();
  const node = h("div", { class: "model-form" });
  let brush = null;
  for (const field of fields) {
    if (brushed && (field.name === "static_mask" || field.name === "dynamic_masks")) {
      if (!brush) {
        const dynamic = fields.find((f) => f.name === "dynamic_masks");
        brush = motionBrush({ ctx, image: widgets.get("image"), dynamic, frame });
        node.append(brush.node);
      }
      continue;
    }
    const widget = widgetFor(field, ctx);
    widgets.set(field.name, widget);
    node.append(widget.node);
  }
  return {
    node,
    widgets,
    brush,
    read() {
      const body = { model: model.id };
      for (const [name, widget] of widgets) {
        const value = widget.read(name, ctx);
        if (value !== undefined) body[name] = value;
      }
      return brush ? brush.read(body) : Promise.resolve(body);
    },
  };
}
