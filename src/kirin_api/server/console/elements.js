// The subject library: the account's elements (made by kirin_custom_elements tasks), a form
// to make one from images or a video, and delete.

import { clear, errorBlock, h, when } from "./dom.js";
import { FormContext, modelForm } from "./form.js";
import { submitForm } from "./submit.js";

export function subjectLibrary(api, models, { datalist }) {
  const list = h("div", { class: "elements" });
  const pager = h("div", { class: "buttons pager" });
  const creator = models.find((m) => m.id === "kirin_custom_elements");
  const formArea = h("div");
  const node = h(
    "div",
    {},
    h("h3", { text: "Your subjects" }),
    list,
    pager,
    creator ? h("h3", { text: "Make a subject" }) : null,
    formArea,
  );

  let cursors = [null];
  async function load() {
    try {
      const page = await api.listElements({ cursor: cursors[cursors.length - 1], limit: 12 });
      clear(list);
      if (!page.data.length) list.append(h("p", { class: "hint", text: "No subjects yet." }));
      for (const element of page.data) list.append(card(element));
      clear(datalist);
      for (const element of page.data) {
        datalist.append(h("option", { value: String(element.id), text: element.element_name }));
      }
      clear(pager);
      if (cursors.length > 1) {
        pager.append(h("button", { type: "button", class: "secondary", text: "Newer", onclick: () => (cursors.pop(), load()) }));
      }
      if (page.next_cursor) {
        pager.append(h("button", { type: "button", class: "secondary", text: "Older", onclick: () => (cursors.push(page.next_cursor), load()) }));
      }
    } catch (error) {
      clear(list).append(errorBlock(error));
    }
  }

  function card(element) {
    const remove = h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete subject ${element.element_name}` });
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the subject "${element.element_name}" (${element.id})?`)) return;
      try {
        await api.deleteElement(element.id);
        await load();
      } catch (error) {
        remove.after(errorBlock(error));
      }
    });
    return h(
      "article",
      { class: "element", dataset: { elementId: String(element.id) } },
      h("img", { src: element.frontal_image_url, alt: `${element.element_name}, seen from the front`, loading: "lazy" }),
      h("h4", { text: element.element_name }),
      h("p", {}, "element_id ", h("code", { text: String(element.id) })),
      element.element_description ? h("p", { text: element.element_description }) : null,
      h("p", { class: "hint", text: `${element.reference_type}, ${when(element.created_at)}` }),
      remove,
    );
  }

  if (creator) {
    const ctx = new FormContext(api);
    const form = modelForm(creator, ctx);
    const result = h("div");
    const submit = h("button", { type: "submit", text: "Make subject" });
    const formError = h("div", { role: "alert" });
    const element = h("form", { novalidate: true, class: "task-form" }, form.node, submit, formError);
    element.addEventListener("submit", (event) => {
      event.preventDefault();
      submitForm({ api, ctx, form, button: submit, errors: formError, result, onFinished: load });
    });
    formArea.append(element, result);
  }

  return { node, load };
}
