// The console's only way to the server: the public HTTP API, with the user's key.

import { SseParser } from "./sse.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);

export function isFinished(task) {
  return FINISHED.has(task.status);
}

/**
 * JSON.parse, except that integers beyond 2^53 (element ids are 64-bit) stay exact, as
 * strings: a JavaScript number would round them and name another element.
 */
export function parseJson(text) {
  let exact = true;
  const value = JSON.parse(text, (key, item, context) => {
    if (typeof item === "number" && Number.isInteger(item) && !Number.isSafeInteger(item)) {
      if (context && typeof context.source === "string") return context.source;
      exact = false;
    }
    return item;
  });
  if (exact) return value;
  // A browser without the reviver's source text: quote long integers before parsing.
  return JSON.parse(text.replace(/([:,[]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

/** An error answer of the API: {error: {code, message, param}} with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, param = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page): fall through to the status line
  }
  const error = body && body.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, String(error.code), error.message, error.param ?? null);
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText || "error");
}

export class Api {
  constructor(key, base = "") {
    this.key = key;
    this.base = base;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  async request(method, path, { json, headers, signal } = {}) {
    const init = { method, headers: this.headers(headers), signal };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(0, "network", `the server cannot be reached (${exc.message})`);
    }
    if (!response.ok) throw await errorOf(response);
    return parseJson(await response.text());
  }

  models() {
    return this.request("GET", "/model/v1/models");
  }

  createTask(body) {
    return this.request("POST", "/model/v1/generation", { json: body });
  }

  getTask(id) {
    return this.request("GET", `/model/v1/generation/task/${encodeURIComponent(id)}`);
  }

  listTasks({ limit = 20, cursor, status, model } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    if (status) query.set("status", status);
    if (model) query.set("model", model);
    return this.request("GET", `/model/v1/generation/tasks?${query}`);
  }

  cancelTask(id) {
    return this.request("POST", `/model/v1/generation/task/${encodeURIComponent(id)}/cancel`);
  }

  deliveries(id) {
    return this.request("GET", `/model/v1/generation/task/${encodeURIComponent(id)}/deliveries`);
  }

  listElements({ limit = 20, cursor } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/model/v1/elements?${query}`);
  }

  deleteElement(id) {
    return this.request("DELETE", `/model/v1/elements/${encodeURIComponent(id)}`);
  }

  /**
   * Upload a file (multipart part "file"); resolves to the upload object. XMLHttpRequest,
   * not fetch, because only it reports the progress of a request body.
   */
  upload(file, { onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${this.base}/model/v1/uploads`);
      xhr.setRequestHeader("Authorization", `Bearer ${this.key}`);
      xhr.responseType = "text";
      if (onProgress) {
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) onProgress(event.loaded / event.total);
        });
      }
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = parseJson(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
        else if (body && body.error) {
          const e = body.error;
          reject(new ApiError(xhr.status, String(e.code), String(e.message), e.param ?? null));
        } else reject(new ApiError(xhr.status, `http_${xhr.status}`, xhr.statusText || "error"));
      });
      xhr.addEventListener("error", () =>
        reject(new ApiError(0, "network", "the upload did not reach the server")),
      );
      xhr.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      if (signal) signal.addEventListener("abort", () => xhr.abort());
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  /**
   * The task's live events (GET .../events, text/event-stream) as an async iterator of task
   * objects. Throws ApiError when the server has no such stream (404 on an old server) or
   * refuses it; ends when the stream ends.
   */
  async *events(id, signal) {
    const path = `/model/v1/generation/task/${encodeURIComponent(id)}/events`;
    let response;
    try {
      response = await fetch(this.base + path, {
        headers: this.headers({ Accept: "text/event-stream" }),
        signal,
      });
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(0, "network", `the server cannot be reached (${exc.message})`);
    }
    if (!response.ok) throw await errorOf(response);
    const type = response.headers.get("content-type") || "";
    if (!type.startsWith("text/event-stream") || !response.body) {
      throw new ApiError(response.status, "no_stream", "the server sent no event stream");
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const event of parser.push(value)) {
          if (event.event === "task") yield parseJson(event.data);
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted", "AbortError"));
      });
    }
  });

/**
 * Every state of a task until it has finished: from the event stream where the server has
 * one, else (or when the stream breaks off early) by polling once a second.
 */
export async function* watchTask(api, id, signal) {
  let last = null;
  try {
    for await (const task of api.events(id, signal)) {
      last = task;
      yield task;
      if (isFinished(task)) return;
    }
  } catch (exc) {
    if (exc.name === "AbortError") return;
    if (exc instanceof ApiError && exc.status === 404 && exc.param === "task_id") throw exc;
  }
  // No stream, or it ended before the task finished: poll.
  for (;;) {
    const task = await api.getTask(id);
    if (!last || task.status !== last.status || task.progress !== last.progress) yield task;
    last = task;
    if (isFinished(task)) return;
    try {
      await sleep(1000, signal);
    } catch {
      return;
    }
  }
}
