// The console's entry: the API key, the three sections (create, tasks, subjects) and the
// navigation between them.

import { Api, ApiError } from "./api.js";
import { clear, errorBlock, h } from "./dom.js";
import { subjectLibrary } from "./elements.js";
import { FormContext, modelForm } from "./form.js";
import { taskHistory } from "./history.js";
import { submitForm } from "./submit.js";

// Session storage: the key lives as long as this tab, and is never sent anywhere but the API.
const KEY = "kirin.apiKey";
const SECTIONS = ["create", "tasks", "subjects"];

const $ = (id) => document.getElementById(id);

function showSection() {
  const wanted = location.hash.replace("#", "");
  const name = SECTIONS.includes(wanted) ? wanted : "create";
  for (const section of SECTIONS) {
    $(section).hidden = section !== name;
    const link = document.querySelector(`nav a[href="#${section}"]`);
    if (section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return name;
}

function createSection(api, models, { onTaskMade }) {
  const picker = $("model");
  const description = $("model-description");
  const fields = $("fields");
  const result = $("current-task");
  const errors = $("form-errors");
  const button = $("submit-task");
  clear(picker);
  for (const model of models) {
    if (model.id === "kirin_custom_elements") continue; // made from the Subjects section
    picker.append(h("option", { value: model.id, text: model.available ? model.id : `${model.id} (no worker now)` }));
  }
  let ctx = null;
  let form = null;
  const render = () => {
    const model = models.find((m) => m.id === picker.value);
    description.textContent = model ? model.description : "";
    ctx = new FormContext(api, { elementIds: "element-ids" });
    form = modelForm(model, ctx);
    clear(fields).append(form.node);
    clear(errors);
  };
  picker.addEventListener("change", render);
  $("task-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitForm({ api, ctx, form, button, errors, result, onCreated: onTaskMade, onFinished: onTaskMade });
  });
  render();
}

async function start(key) {
  const api = new Api(key);
  const status = $("key-status");
  clear(status).append("Checking the key…");
  let models;
  try {
    models = (await api.models()).data;
  } catch (error) {
    clear(status).append(
      error instanceof ApiError && error.status === 401
        ? errorBlock({ code: error.code, message: `${error.message}. Check the key and try again.` })
        : errorBlock(error),
    );
    return false;
  }
  sessionStorage.setItem(KEY, key);
  clear(status).append(`Key …${key.slice(-4)} accepted; it is kept in this tab only.`);
  $("api-key").value = "";
  $("forget-key").hidden = false;
  document.body.classList.add("signed-in");

  const history = taskHistory(api, models);
  clear($("history")).append(history.node);
  const library = subjectLibrary(api, models, { datalist: $("element-ids") });
  clear($("library")).append(library.node);
  createSection(api, models, { onTaskMade: () => history.load() });
  history.load();
  library.load();
  $("console").hidden = false;
  showSection();
  return true;
}

function main() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) start(key);
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.hash = "";
    location.reload();
  });
  window.addEventListener("hashchange", () => {
    const name = showSection();
    const heading = document.querySelector(`#${name} h2`);
    if (heading) heading.focus();
  });
  const saved = sessionStorage.getItem(KEY);
  if (saved) start(saved);
}

main();
