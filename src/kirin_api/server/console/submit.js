// Submitting a model form: wait for uploads, read the fields, check what the browser can,
// create the task, put each 400 next to the field its `param` names, and follow the task.

import { clear, errorBlock, h } from "./dom.js";
import { TaskView } from "./task_view.js";

const following = new WeakMap(); // result area -> AbortController of the task it follows

export async function submitForm({ api, ctx, form, button, errors, result, onCreated, onFinished }) {
  button.disabled = true;
  clear(errors);
  try {
    if (ctx.pending.size) {
      errors.append(h("p", { class: "hint", text: "Waiting for uploads to finish…" }));
      await Promise.allSettled([...ctx.pending]);
      clear(errors);
    }
    ctx.reset();
    const body = await form.read();
    if (ctx.invalid.length) {
      // Last first, so that the first field with a problem ends up with the focus.
      for (const { path, message } of [...ctx.invalid].reverse()) ctx.show(path, message);
      errors.append(
        errorBlock({ code: "not sent", message: `${ctx.invalid.length} field(s) need attention: see the messages beside them.` }),
      );
      return null;
    }
    let task;
    try {
      task = await api.createTask(body);
    } catch (error) {
      errors.append(errorBlock(error));
      if (error.param) ctx.show(error.param, `${error.code}: ${error.message}`);
      return null;
    }
    const view = new TaskView(api, task);
    clear(result).append(view.node);
    if (onCreated) onCreated(task);
    // One task followed per result area: the one it showed before is let go.
    if (following.has(result)) following.get(result).abort();
    const stop = new AbortController();
    following.set(result, stop);
    view.follow(stop.signal).then(() => onFinished && onFinished(view.task));
    return view;
  } finally {
    button.disabled = false;
  }
}
