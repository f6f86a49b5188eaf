// One task: status and progress (live), error, the finished video(s), cost, cancel, and the
// deliveries of its callbacks.

import { isFinished, watchTask } from "./api.js";
import { clear, errorBlock, h, when } from "./dom.js";

function deliveriesTable(list) {
  if (!list.length) return h("p", { class: "hint", text: "No callbacks (the task has no callback_url)." });
  const head = ["status reported", "state", "attempts", "last HTTP status", "last error", "delivered", "next attempt"];
  return h(
    "table",
    { class: "deliveries" },
    h("caption", { text: "Callback deliveries" }),
    h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col", text })))),
    h(
      "tbody",
      {},
      list.map((d) =>
        h(
          "tr",
          {},
          h("td", { text: d.status_reported }),
          h("td", { text: d.state }),
          h("td", { text: d.attempts }),
          h("td", { text: d.last_status_code ?? "" }),
          h("td", { text: d.last_error ?? "" }),
          h("td", { text: when(d.delivered_at) }),
          h("td", { text: when(d.next_attempt_at) }),
        ),
      ),
    ),
  );
}

function outputNode(task) {
  const items = (task.output || []).flatMap((o) => o.content || []);
  return h(
    "div",
    { class: "output" },
    items.map((item) => {
      if (item.type === "video") {
        const clean = h("video", {
          src: item.url,
          controls: true,
          playsinline: true,
          preload: "auto",
          class: "result",
          "aria-label": `Video of task ${task.id}`,
        });
        const parts = [
          h("figure", {}, clean, h("figcaption", {}, `${item.duration ?? ""} s · `, h("a", { href: item.url, download: "", text: "download" }))),
        ];
        if (item.watermark_url) {
          const marked = h("video", {
            src: item.watermark_url,
            controls: true,
            playsinline: true,
            preload: "metadata",
            class: "result watermarked",
            "aria-label": `Watermarked video of task ${task.id}`,
          });
          parts.push(
            h("figure", {}, marked, h("figcaption", {}, "Watermarked · ", h("a", { href: item.watermark_url, download: "", text: "download" }))),
          );
        }
        return parts;
      }
      if (item.type === "element") {
        return h("p", { class: "ok" }, "Subject created: element_id ", h("code", { text: String(item.element_id) }));
      }
      return h("pre", { text: JSON.stringify(item, null, 2) });
    }),
  );
}

export class TaskView {
  constructor(api, task, { onChange } = {}) {
    this.api = api;
    this.onChange = onChange || (() => {});
    this.status = h("span", { class: "badge" });
    this.bar = h("progress", { max: 1, value: 0 });
    this.percent = h("span", { class: "percent" });
    this.facts = h("dl", { class: "facts" });
    this.problem = h("div");
    this.output = h("div");
    this.deliveries = h("div");
    this.cancelButton = h("button", { type: "button", class: "danger", text: "Cancel task" });
    this.deliveriesButton = h("button", { type: "button", class: "secondary", text: "Show callback deliveries" });
    this.heading = h("h3", { tabindex: -1 });
    this.node = h(
      "article",
      { class: "task", "aria-live": "polite" },
      this.heading,
      h("p", { class: "progress-row" }, this.status, " ", this.bar, " ", this.percent),
      this.facts,
      this.problem,
      this.output,
      h("div", { class: "buttons" }, this.cancelButton, this.deliveriesButton),
      this.deliveries,
    );
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.deliveriesButton.addEventListener("click", () => this.showDeliveries());
    this.shownOutput = false;
    this.update(task);
  }

  update(task) {
    this.task = task;
    this.node.dataset.status = task.status;
    this.node.dataset.taskId = task.id;
    this.heading.textContent = `${task.model} · ${task.id}`;
    this.status.textContent = task.status;
    this.status.className = `badge ${task.status}`;
    this.bar.value = task.progress;
    this.bar.setAttribute("aria-label", `Progress of ${task.id}`);
    this.percent.textContent = `${Math.round(task.progress * 100)}%`;
    clear(this.facts);
    const fact = (term, value) => {
      if (value !== null && value !== undefined && value !== "") {
        this.facts.append(h("dt", { text: term }), h("dd", { text: value }));
      }
    };
    fact("created", when(task.created_at));
    fact("finished", when(task.completed_at));
    fact("external_task_id", task.external_task_id);
    if (task.usage) fact("cost", `${task.usage.cost} USD${task.usage.discount ? ` (discount ${task.usage.discount})` : ""}`);
    const meta = task.metadata || {};
    if (meta.width) fact("video", `${meta.width}×${meta.height}, ${meta.fps} fps, ${meta.frames} frames (${meta.engine})`);
    clear(this.problem);
    if (task.error) this.problem.append(errorBlock(task.error));
    if (task.status === "completed" && !this.shownOutput) {
      this.shownOutput = true;
      clear(this.output).append(outputNode(task));
    }
    this.cancelButton.hidden = isFinished(task);
    this.onChange(task);
  }

  /** Follow the task until it has finished (event stream, or polling). */
  async follow(signal) {
    try {
      for await (const task of watchTask(this.api, this.task.id, signal)) this.update(task);
    } catch (error) {
      clear(this.problem).append(errorBlock(error));
    }
  }

  async cancel() {
    this.cancelButton.disabled = true;
    try {
      this.update(await this.api.cancelTask(this.task.id));
    } catch (error) {
      clear(this.problem).append(errorBlock(error));
    } finally {
      this.cancelButton.disabled = false;
    }
  }

  async showDeliveries() {
    clear(this.deliveries).append(h("p", { class: "hint", text: "Loading…" }));
    try {
      const answer = await this.api.deliveries(this.task.id);
      clear(this.deliveries).append(deliveriesTable(answer.data));
    } catch (error) {
      clear(this.deliveries).append(errorBlock(error));
    }
  }
}
