// Building the page: every element is made here, every text goes in through textContent or
// a text node. Nothing from the server or the user is ever parsed as HTML.

let counter = 0;

/** A fresh id for label/field pairs. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * h("button", {type: "button", onclick: fn, class: "x"}, "text", child, ...)
 * Properties: `class`, `text`, `on<event>` (a listener), `dataset` (an object), `hidden`,
 * `disabled`, `checked`, `value` (set as properties); anything else is an attribute.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (["hidden", "disabled", "checked", "value", "required"].includes(key)) {
      node[key] = value;
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** "2026-12-01 03:21:05" in the browser's time zone, from Unix seconds. */
export function when(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A message block for an error from the API (code and message) or any other error. */
export function errorBlock(error) {
  const code = error && error.code ? error.code : "error";
  const message = error && error.message ? error.message : String(error);
  return h(
    "p",
    { class: "error", role: "alert" },
    h("span", { class: "code", text: code }),
    " ",
    message,
  );
}
