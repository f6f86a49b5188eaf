// The account's tasks, newest first: filters by status and model, cursor paging, cancel, and
// one task opened below the list (live while it runs).

import { isFinished } from "./api.js";
import { clear, errorBlock, h, uid, when } from "./dom.js";
import { TaskView } from "./task_view.js";

const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];

export function taskHistory(api, models) {
  const statusId = uid("status");
  const modelId = uid("model");
  const status = h("select", { id: statusId }, h("option", { value: "", text: "any" }), STATUSES.map((s) => h("option", { value: s, text: s })));
  const model = h("select", { id: modelId }, h("option", { value: "", text: "any" }), models.map((m) => h("option", { value: m.id, text: m.id })));
  const refreshButton = h("button", { type: "button", class: "secondary", text: "Refresh" });
  const previous = h("button", { type: "button", class: "secondary", text: "Newer page" });
  const next = h("button", { type: "button", class: "secondary", text: "Older page" });
  const table = h("div", { class: "table-wrap" });
  const pageInfo = h("span", { class: "hint", role: "status" });
  const detail = h("div", { class: "detail" });
  const node = h(
    "div",
    {},
    h(
      "div",
      { class: "filters" },
      h("div", { class: "field" }, h("label", { for: statusId, text: "Status" }), status),
      h("div", { class: "field" }, h("label", { for: modelId, text: "Model" }), model),
      refreshButton,
    ),
    table,
    h("div", { class: "buttons pager" }, previous, next, pageInfo),
    detail,
  );

  let cursors = [null]; // the cursor of each page seen; the last is the one shown
  let nextCursor = null;
  let following = null;

  const open = (task) => {
    if (following) following.abort();
    following = new AbortController();
    const view = new TaskView(api, task);
    clear(detail).append(view.node);
    view.heading.focus();
    if (!isFinished(task)) view.follow(following.signal).then(load);
  };

  const row = (task) => {
    const cancel = h("button", { type: "button", class: "danger small", text: "Cancel", hidden: isFinished(task), "aria-label": `Cancel ${task.id}` });
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await api.cancelTask(task.id);
      } catch (error) {
        clear(detail).append(errorBlock(error));
      }
      await load();
    });
    const openButton = h("button", { type: "button", class: "secondary small", text: "Open", "aria-label": `Open ${task.id}` });
    openButton.addEventListener("click", () => open(task));
    return h(
      "tr",
      { dataset: { taskId: task.id, status: task.status } },
      h("td", { text: when(task.created_at) }),
      h("td", {}, h("code", { text: task.id })),
      h("td", { text: task.model }),
      h("td", {}, h("span", { class: `badge ${task.status}`, text: task.status })),
      h("td", { text: `${Math.round(task.progress * 100)}%` }),
      h("td", { class: "num", text: task.usage ? task.usage.cost : "" }),
      h("td", { class: "actions" }, openButton, cancel),
    );
  };

  async function load() {
    const cursor = cursors[cursors.length - 1];
    try {
      const page = await api.listTasks({ cursor, status: status.value || undefined, model: model.value || undefined, limit: 10 });
      nextCursor = page.next_cursor;
      const head = ["created", "id", "model", "status", "progress", "cost (USD)", ""];
      clear(table).append(
        page.data.length
          ? h(
              "table",
              { class: "tasks" },
              h("caption", { text: "Tasks, newest first" }),
              h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col", text })))),
              h("tbody", {}, page.data.map(row)),
            )
          : h("p", { class: "hint", text: "No tasks here." }),
      );
      pageInfo.textContent = `page ${cursors.length}`;
    } catch (error) {
      clear(table).append(errorBlock(error));
    }
    previous.disabled = cursors.length <= 1;
    next.disabled = !nextCursor;
  }

  const restart = () => {
    cursors = [null];
    load();
  };
  status.addEventListener("change", restart);
  model.addEventListener("change", restart);
  refreshButton.addEventListener("click", load);
  next.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    load();
  });
  previous.addEventListener("click", () => {
    if (cursors.length > 1) cursors.pop();
    load();
  });

  return { node, load, open };
}
