// An image or video parameter: a file (picked or dropped, then uploaded through
// POST /model/v1/uploads) or a URL, with a preview of either.

import { ApiError } from "./api.js";
import { bytes, clear, errorBlock, h, uid, when } from "./dom.js";

const ACCEPT = {
  image: ["image/png", "image/jpeg"],
  video: ["video/mp4", "video/quicktime"],
};

/** Raw base64 of a file or blob (no data: prefix, as the API wants it). */
export function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(String(reader.result).split(",", 2)[1]));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

export function mediaField(field, ctx, { frame, label }) {
  const kind = field.kind; // "image" | "video"
  const name = label && label.trim() ? label : field.name;
  const fileInput = h("input", {
    id: uid("file"),
    type: "file",
    accept: ACCEPT[kind].join(","),
  });
  const urlId = uid("url");
  const urlInput = h("input", { id: urlId, type: "url", placeholder: "https://..." });
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  const status = h("div", { class: "media-status", role: "status" });
  const removeButton = h("button", { type: "button", class: "secondary small", text: "Clear", hidden: true });
  const drop = h(
    "div",
    { class: "drop" },
    h("span", { text: `Drop ${kind === "image" ? "a JPEG or PNG" : "an MP4 or MOV"} here, or choose one: ` }),
    fileInput,
  );
  const extra = h(
    "div",
    { class: "media" },
    drop,
    h("div", { class: "url-row" }, h("label", { for: urlId, text: `or the ${kind}'s URL` }), urlInput),
    preview,
    status,
    removeButton,
  );
  const { node, slot } = frame(field, fileInput, { label: name, extra, controlInExtra: true });
  node.classList.add("media-field");

  let value = "";
  let objectUrl = null;
  let generation = 0; // a newer choice makes an older upload's answer stale
  const listeners = [];
  let picture = null; // {src, width, height} of the image shown

  const announce = (next) => {
    picture = next;
    for (const listener of listeners) listener(picture);
  };

  const showPreview = (src, { local }) => {
    clear(preview);
    if (!src) {
      announce(null);
      return;
    }
    if (kind === "image") {
      const img = h("img", { alt: `Preview of ${name}`, src });
      img.addEventListener("load", () =>
        announce({ src, width: img.naturalWidth, height: img.naturalHeight }),
      );
      img.addEventListener("error", () => {
        clear(preview);
        announce(null);
        preview.append(
          h("p", {
            class: "hint",
            text: local
              ? "This file cannot be shown as an image."
              : "No preview: this page shows only images from this server (its security policy). The server fetches the URL itself when the task runs.",
          }),
        );
      });
      preview.append(img);
    } else {
      const video = h("video", { src, controls: true, muted: true, preload: "metadata" });
      video.setAttribute("aria-label", `Preview of ${name}`);
      preview.append(video);
    }
  };

  const reset = () => {
    generation += 1;
    value = "";
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
    clear(status);
    showPreview(null, {});
    removeButton.hidden = true;
  };

  const takeFile = async (file) => {
    reset();
    urlInput.value = "";
    const mine = generation;
    if (!ACCEPT[kind].includes(file.type)) {
      status.append(
        errorBlock({
          code: "invalid_media",
          message: `${file.name}: ${file.type || "unknown type"}; ${name} takes ${ACCEPT[kind].join(" or ")}`,
        }),
      );
      return;
    }
    objectUrl = URL.createObjectURL(file);
    showPreview(objectUrl, { local: true });
    removeButton.hidden = false;
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Upload of ${file.name}` });
    status.append(h("span", { text: `Uploading ${file.name} (${bytes(file.size)}) ` }), bar);
    const upload = ctx.api
      .upload(file, { onProgress: (fraction) => (bar.value = fraction) })
      .then((answer) => {
        if (mine !== generation) return;
        value = answer.url;
        const size = answer.width ? `${answer.width}×${answer.height}, ` : "";
        const length = answer.duration ? `${answer.duration} s, ` : "";
        clear(status).append(
          h("span", { class: "ok", text: `Uploaded ${file.name}: ${size}${length}${bytes(answer.bytes)}` }),
          h("span", { class: "hint", text: ` (${answer.id}, kept until ${when(answer.expires_at)})` }),
        );
      })
      .catch(async (error) => {
        if (mine !== generation) return;
        // A server without uploads (404): an image can still go inline as base64.
        if (error instanceof ApiError && error.status === 404 && kind === "image") {
          value = await base64Of(file);
          clear(status).append(
            h("span", { text: `${file.name} will be sent inline (this server takes no uploads)` }),
          );
          return;
        }
        value = "";
        clear(status).append(errorBlock(error));
      })
      .finally(() => ctx.pending.delete(upload));
    ctx.pending.add(upload);
  };

  fileInput.addEventListener("change", () => {
    if (fileInput.files && fileInput.files[0]) takeFile(fileInput.files[0]);
  });
  for (const type of ["dragenter", "dragover"]) {
    node.addEventListener(type, (event) => {
      event.preventDefault();
      node.classList.add("dragging");
    });
  }
  node.addEventListener("dragleave", () => node.classList.remove("dragging"));
  node.addEventListener("drop", (event) => {
    event.preventDefault();
    node.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) takeFile(file);
  });
  urlInput.addEventListener("change", () => {
    const url = urlInput.value.trim();
    reset();
    fileInput.value = "";
    value = url;
    if (url) {
      removeButton.hidden = false;
      showPreview(url, { local: false });
    }
  });
  removeButton.addEventListener("click", () => {
    reset();
    fileInput.value = "";
    urlInput.value = "";
    fileInput.focus();
  });

  return {
    node,
    control: fileInput,
    /** Called with {src, width, height} whenever the shown image changes (null: none). */
    onImage(listener) {
      listeners.push(listener);
      if (picture) listener(picture);
    },
    read(path) {
      ctx.register(path, slot, fileInput);
      if (field.required && !value) {
        ctx.invalid.push({ path, message: `${name} is required: choose a file or give a URL` });
      }
      return value || undefined;
    },
  };
}
