// The document list: name, pages, chunks, status, size, and delete (after a confirmation).

import { getJSON, request } from "./api.js";
import { formatSize, onLanguageChange, t } from "./i18n.js";

const PAGE = 200;
const UNFINISHED = new Set(["queued", "parsing", "ocr", "embedding", "pending"]);

function cell(text, label) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.label = label;
  return td;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = text;
  return el;
}

function confirmDelete(name) {
  const dialog = document.getElementById("confirm-delete");
  document.getElementById("confirm-text").textContent = t("confirmDelete", { name });
  dialog.returnValue = "";
  dialog.showModal();
  dialog.querySelector("button[value=cancel]").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "delete"), {
      once: true,
    });
  });
}

export function startLibrary() {
  const table = document.getElementById("documents");
  const body = table.querySelector("tbody");
  const empty = document.getElementById("no-documents");
  const announcer = document.getElementById("announcer");
  const listeners = [];
  let documents = [];
  let timer = null;

  function render() {
    body.replaceChildren();
    for (const doc of documents) {
      const row = document.createElement("tr");
      row.dataset.id = doc.id;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = doc.filename;
      name.dataset.label = t("colName");
      if (doc.status === "failed" && doc.error?.message) {
        name.append(element("small", "error row-error", doc.error.message));
      }
      const status = cell(statusText(doc), t("colStatus"));
      status.className = `status status-${doc.status}`;
      const actions = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger small";
      remove.textContent = t("delete");
      remove.setAttribute("aria-label", t("deleteFile", { name: doc.filename }));
      remove.addEventListener("click", () => removeDocument(doc, remove));
      actions.append(remove);
      row.append(
        name,
        cell(doc.pages || "–", t("colPages")),
        cell(doc.chunks, t("colChunks")),
        status,
        cell(formatSize(doc.size_bytes), t("colSize")),
        actions,
      );
      body.append(row);
    }
    table.hidden = documents.length === 0;
    empty.hidden = documents.length !== 0;
  }

  function statusText(doc) {
    const pct = Math.round((doc.progress ?? 0) * 100);
    return UNFINISHED.has(doc.status) ? t(doc.status, { pct }) : t(doc.status);
  }

  async function removeDocument(doc, button) {
    if (!(await confirmDelete(doc.filename))) {
      button.focus();
      return;
    }
    try {
      await request(`documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
      announcer.textContent = t("deleted", { name: doc.filename });
    } catch (error) {
      announcer.textContent = error.message;
    }
    await refresh();
    document.getElementById("upload-heading").focus?.();
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const page = await getJSON(`documents?limit=${PAGE}`);
      documents = page.data;
    } catch (error) {
      announcer.textContent = error.message;
      return;
    }
    render();
    for (const listener of listeners) listener(documents);
    // Keep the statuses moving while something is still being ingested.
    if (documents.some((d) => UNFINISHED.has(d.status))) timer = setTimeout(refresh, 1500);
  }

  onLanguageChange(render);
  return {
    refresh,
    documents: () => documents,
    byId: (id) => documents.find((d) => d.id === id),
    onChange: (listener) => listeners.push(listener),
  };
}
