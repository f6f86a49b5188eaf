// The motion brush of kirin_v1_i2v: paint the area that stays still (static_mask) and up to
// six areas that move (dynamic_masks), each with its path (2 to 77 points).
//
// Masks are painted on canvases of the image's own size (not the size it is shown at), so
// the PNGs sent have the image's resolution; trajectory points are kept in the image's
// pixels with the origin top-left, as the screen has it, and turned into the API's
// convention (origin bottom-left: y = height - y) only when the request is built.

import { base64Of } from "./media.js";
import { clear, h, uid } from "./dom.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2"];
const MAX_POINTS = 77;
const MIN_POINTS = 2;

function maskCanvas(width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/** Whether any pixel of the layer is painted (its alpha above half, as the API reads light). */
function painted(canvas) {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 127) return true;
  return false;
}

/** The layer as the API's mask: white where painted, black elsewhere; raw base64 PNG. */
async function maskPng(layer) {
  const out = maskCanvas(layer.width, layer.height);
  const g = out.getContext("2d");
  g.fillStyle = "#000";
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(layer, 0, 0);
  const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
  return base64Of(blob);
}

/** A drawn path as at most `limit` points, evenly spaced along its length. */
export function resample(points, limit = MAX_POINTS) {
  if (points.length <= limit) return points.slice();
  const lengths = [0];
  for (let i = 1; i < points.length; i += 1) {
    const dx = points[i].x - points[i - 1].x;
    const dy = points[i].y - points[i - 1].y;
    lengths.push(lengths[i - 1] + Math.hypot(dx, dy));
  }
  const total = lengths[lengths.length - 1];
  const out = [];
  let j = 1;
  for (let k = 0; k < limit; k += 1) {
    const at = (total * k) / (limit - 1);
    while (j < points.length - 1 && lengths[j] < at) j += 1;
    const span = lengths[j] - lengths[j - 1] || 1;
    const t = Math.min(1, Math.max(0, (at - lengths[j - 1]) / span));
    out.push({
      x: points[j - 1].x + (points[j].x - points[j - 1].x) * t,
      y: points[j - 1].y + (points[j].y - points[j - 1].y) * t,
    });
  }
  return out;
}

/** Screen-convention points (top-left origin) -> the API's (pixels, bottom-left origin). */
export function toApiPoints(points, width, height) {
  const clamp = (v, max) => Math.min(max, Math.max(0, Math.round(v)));
  return points.map((p) => ({ x: clamp(p.x, width), y: clamp(height - p.y, height) }));
}

export function motionBrush({ ctx, image, dynamic, frame }) {
  const maxDynamic = Number.isFinite(dynamic.maxItems) ? dynamic.maxItems : 6;
  let picture = null; // {src, width, height}
  let layers = []; // [{name, canvas, points|null}]; layers[0] is the static one
  let current = 0;
  let tool = "paint";
  let stroke = null;
  let cursor = null; // keyboard cursor, image pixels

  const status = h("p", { class: "brush-status", role: "status" });
  const slot = h("p", { class: "field-error", hidden: true, "aria-live": "polite" });
  const img = h("img", { alt: "The image being painted", class: "brush-image" });
  const canvas = h("canvas", {
    tabindex: 0,
    class: "brush-canvas",
    role: "application",
    "aria-label":
      "Motion brush. Paint or erase with the mouse, or move with the arrow keys (Shift: finer) " +
      "and press Space; with the trajectory tool, click to add points or drag to draw the path; " +
      "Backspace removes the last point.",
  });
  const stage = h("div", { class: "brush-stage", hidden: true }, img, canvas);
  const empty = h("p", { class: "hint", text: "Give the image first (above): the brush paints over it." });
  const layerBox = h("fieldset", { class: "radios" }, h("legend", { text: "Area" }));
  const toolBox = h("fieldset", { class: "radios" }, h("legend", { text: "Tool" }));
  const sizeId = uid("size");
  const size = h("input", { id: sizeId, type: "range", min: 2, max: 300, value: 40 });
  const addButton = h("button", { type: "button", class: "secondary", text: "Add moving area" });
  const removeButton = h("button", { type: "button", class: "secondary", text: "Remove this moving area" });
  const clearButton = h("button", { type: "button", class: "secondary", text: "Clear this area" });
  const pointsList = h("ol", { class: "points" });
  const tools = h(
    "div",
    { class: "brush-tools" },
    layerBox,
    toolBox,
    h("div", { class: "field" }, h("label", { for: sizeId, text: "Brush size (image pixels)" }), size),
    h("div", { class: "buttons" }, addButton, removeButton, clearButton),
  );
  const node = h(
    "fieldset",
    { class: "brush", dataset: { param: "dynamic_masks" } },
    h("legend", {}, "Motion brush (", h("code", { text: "static_mask" }), ", ", h("code", { text: "dynamic_masks" }), ")"),
    h("p", {
      class: "hint",
      text:
        "Paint the area that must stay still and up to six areas that move, and draw the path of " +
        "each moving area (2 to 77 points). Only with duration 5 and without image_tail. " +
        "Masks are sent at the image's size; points in its pixels with the origin bottom-left.",
    }),
    slot,
    empty,
    tools,
    stage,
    status,
    h("details", {}, h("summary", { text: "Trajectory points (image pixels, origin bottom-left)" }), pointsList),
  );
  tools.hidden = true;

  const toolGroup = uid("tools");
  for (const [value, text] of [["paint", "Paint"], ["erase", "Erase"], ["path", "Trajectory"]]) {
    const id = uid("tool");
    const radio = h("input", { type: "radio", name: toolGroup, id, value, checked: value === tool });
    radio.addEventListener("change", () => {
      tool = value;
      draw();
    });
    toolBox.append(h("span", { class: "radio" }, radio, h("label", { for: id, text })));
  }

  const layerName = (index) => (index === 0 ? "Still area (static_mask)" : `Moving area ${index}`);

  const renderLayers = () => {
    for (const old of layerBox.querySelectorAll(".radio")) old.remove();
    const group = uid("layer");
    layers.forEach((layer, index) => {
      const id = uid("layer");
      const radio = h("input", { type: "radio", name: group, id, checked: index === current });
      radio.addEventListener("change", () => {
        current = index;
        refresh();
      });
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = COLORS[index];
      layerBox.append(h("span", { class: "radio" }, radio, h("label", { for: id }, swatch, layerName(index))));
    });
  };

  const refresh = () => {
    addButton.disabled = layers.length - 1 >= maxDynamic;
    removeButton.disabled = current === 0;
    renderLayers();
    const layer = layers[current];
    const bits = [`Painting: ${layerName(current)}`];
    if (layer && layer.points) bits.push(`${layer.points.length} of ${MIN_POINTS} to ${MAX_POINTS} points`);
    status.textContent = picture ? bits.join("; ") : "";
    clear(pointsList);
    if (layer && layer.points && picture) {
      for (const p of toApiPoints(layer.points, picture.width, picture.height)) {
        pointsList.append(h("li", { text: `x ${p.x}, y ${p.y}` }));
      }
    }
    draw();
  };

  const newLayer = (withPath) => ({
    canvas: maskCanvas(picture.width, picture.height),
    points: withPath ? [] : null,
  });

  const setPicture = (next) => {
    const sameSize = picture && next && picture.width === next.width && picture.height === next.height;
    picture = next;
    stage.hidden = !picture;
    tools.hidden = !picture;
    empty.hidden = Boolean(picture);
    if (!picture) {
      layers = [];
      status.textContent = "";
      return;
    }
    img.src = picture.src;
    if (!sameSize) {
      layers = [newLayer(false), newLayer(true)];
      current = 1;
      size.max = String(Math.round(Math.min(picture.width, picture.height) / 2));
      size.value = String(Math.max(4, Math.round(Math.min(picture.width, picture.height) / 20)));
    }
    requestAnimationFrame(() => {
      fit();
      refresh();
    });
  };

  // The overlay canvas matches the shown image (times the pixel ratio, for sharp lines).
  const fit = () => {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(img.clientWidth * ratio));
    canvas.height = Math.max(1, Math.round(img.clientHeight * ratio));
    draw();
  };
  new ResizeObserver(fit).observe(img);

  const tint = document.createElement("canvas");
  function draw() {
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (!picture) return;
    const sx = canvas.width / picture.width;
    const sy = canvas.height / picture.height;
    tint.width = canvas.width;
    tint.height = canvas.height;
    const t = tint.getContext("2d");
    layers.forEach((layer, index) => {
      t.globalCompositeOperation = "source-over";
      t.clearRect(0, 0, tint.width, tint.height);
      t.drawImage(layer.canvas, 0, 0, tint.width, tint.height);
      t.globalCompositeOperation = "source-in";
      t.fillStyle = COLORS[index];
      t.fillRect(0, 0, tint.width, tint.height);
      g.globalAlpha = index === current ? 0.55 : 0.35;
      g.drawImage(tint, 0, 0);
      g.globalAlpha = 1;
      if (layer.points && layer.points.length) {
        g.strokeStyle = COLORS[index];
        g.fillStyle = COLORS[index];
        g.lineWidth = 3 * (window.devicePixelRatio || 1);
        g.beginPath();
        layer.points.forEach((p, i) => (i ? g.lineTo(p.x * sx, p.y * sy) : g.moveTo(p.x * sx, p.y * sy)));
        g.stroke();
        layer.points.forEach((p, i) => {
          g.beginPath();
          g.arc(p.x * sx, p.y * sy, (i === 0 ? 6 : 3) * (window.devicePixelRatio || 1), 0, Math.PI * 2);
          g.fill();
        });
      }
    });
    if (cursor && document.activeElement === canvas) {
      g.strokeStyle = "#fff";
      g.lineWidth = 2;
      g.beginPath();
      const r = tool === "path" ? 8 : (Number(size.value) / 2) * sx;
      g.arc(cursor.x * sx, cursor.y * sy, Math.max(4, r), 0, Math.PI * 2);
      g.stroke();
    }
  }

  const toImage = (event) => {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) / box.width) * picture.width,
      y: ((event.clientY - box.top) / box.height) * picture.height,
    };
  };

  const paintLine = (from, to) => {
    const g = layers[current].canvas.getContext("2d");
    g.globalCompositeOperation = tool === "erase" ? "destination-out" : "source-over";
    g.strokeStyle = "#fff";
    g.fillStyle = "#fff";
    g.lineCap = "round";
    g.lineJoin = "round";
    g.lineWidth = Number(size.value);
    g.beginPath();
    g.moveTo(from.x, from.y);
    g.lineTo(to.x, to.y);
    g.stroke();
    g.beginPath();
    g.arc(to.x, to.y, Number(size.value) / 2, 0, Math.PI * 2);
    g.fill();
  };

  const addPoint = (point) => {
    const layer = layers[current];
    if (!layer.points) {
      status.textContent = "The still area has no path: choose a moving area to draw one.";
      return;
    }
    if (layer.points.length >= MAX_POINTS) {
      status.textContent = `A path has at most ${MAX_POINTS} points.`;
      return;
    }
    layer.points.push(point);
    refresh();
  };

  canvas.addEventListener("pointerdown", (event) => {
    if (!picture || event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const at = toImage(event);
    stroke = { points: [at], moved: false };
    if (tool !== "path") {
      paintLine(at, at);
      draw();
    }
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke) return;
    const at = toImage(event);
    const last = stroke.points[stroke.points.length - 1];
    const step = Math.min(picture.width, picture.height) / 200;
    if (Math.hypot(at.x - last.x, at.y - last.y) < step) return;
    stroke.moved = true;
    stroke.points.push(at);
    if (tool !== "path") paintLine(last, at);
    else if (layers[current].points) {
      layers[current].points = resample(stroke.points);
    }
    draw();
  });
  const endStroke = () => {
    if (!stroke) return;
    if (tool === "path") {
      if (stroke.moved && layers[current].points) layers[current].points = resample(stroke.points);
      else addPoint(stroke.points[0]);
    }
    stroke = null;
    refresh();
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  canvas.addEventListener("focus", () => {
    if (picture && !cursor) cursor = { x: picture.width / 2, y: picture.height / 2 };
    draw();
  });
  canvas.addEventListener("blur", draw);
  canvas.addEventListener("keydown", (event) => {
    if (!picture || !cursor) return;
    const step = Math.min(picture.width, picture.height) / (event.shiftKey ? 100 : 20);
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const next = {
        x: Math.min(picture.width, Math.max(0, cursor.x + dx * step)),
        y: Math.min(picture.height, Math.max(0, cursor.y + dy * step)),
      };
      if (event.ctrlKey && tool !== "path") paintLine(cursor, next); // Ctrl+arrows: paint a line
      cursor = next;
      draw();
    } else if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (tool === "path") addPoint({ ...cursor });
      else {
        paintLine(cursor, cursor);
        draw();
      }
    } else if (event.key === "Backspace" || event.key === "Delete") {
      event.preventDefault();
      const layer = layers[current];
      if (layer.points && layer.points.length) {
        layer.points.pop();
        refresh();
      }
    }
  });

  addButton.addEventListener("click", () => {
    if (!picture || layers.length - 1 >= maxDynamic) return;
    layers.push(newLayer(true));
    current = layers.length - 1;
    refresh();
  });
  removeButton.addEventListener("click", () => {
    if (current === 0) return;
    layers.splice(current, 1);
    current = Math.min(current, layers.length - 1);
    refresh();
  });
  clearButton.addEventListener("click", () => {
    const layer = layers[current];
    if (!layer) return;
    layer.canvas.getContext("2d").clearRect(0, 0, layer.canvas.width, layer.canvas.height);
    if (layer.points) layer.points = [];
    refresh();
  });

  if (image && image.onImage) image.onImage(setPicture);

  return {
    node,
    /** Adds static_mask and dynamic_masks to the body where something was painted. */
    async read(body) {
      ctx.register("static_mask", slot, canvas);
      ctx.register("dynamic_masks", slot, canvas);
      if (!picture) return body;
      const [still, ...moving] = layers;
      if (painted(still.canvas)) body.static_mask = await maskPng(still.canvas);
      const groups = [];
      for (const [index, layer] of moving.entries()) {
        const path = `dynamic_masks.${groups.length}`;
        const hasPaint = painted(layer.canvas);
        if (!hasPaint && layer.points.length === 0) continue;
        ctx.register(path, slot, canvas);
        if (!hasPaint) ctx.invalid.push({ path, message: `${layerName(index + 1)}: paint the area that moves` });
        if (layer.points.length < MIN_POINTS) {
          ctx.invalid.push({ path, message: `${layerName(index + 1)}: draw its path (${MIN_POINTS} to ${MAX_POINTS} points)` });
        }
        groups.push({
          mask: await maskPng(layer.canvas),
          trajectories: toApiPoints(layer.points, picture.width, picture.height),
        });
      }
      if (groups.length) body.dynamic_masks = groups;
      return body;
    },
  };
}
