// The document list: name, pages, chunks, status, size, and delete (after a confirmation).
// Failed uploads are listed apart (failures.js); a document still being read says which of
// its pages already answer questions.

import { getJSON, request, scoped } from "./api.js";
import { errorText, formatSize, onLanguageChange, t } from "./i18n.js";

const PAGE = 200;
const UNFINISHED = new Set(["queued", "parsing", "ocr", "embedding", "pending"]);

function cell(text, label) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.label = label;
  return td;
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

/** Whether a document's chunks answer questions yet: ready, or being read with some stored. */
export function answers(doc) {
  return doc.status === "ready" || (doc.status === "embedding" && doc.chunks > 0);
}

/** "reading, answerable so far: pages 1–40", or the plain stage. */
export function statusText(doc) {
  const pct = Math.round((doc.progress ?? 0) * 100);
  if (doc.status === "embedding" && doc.answerable_pages > 0) {
    return t("readingAnswerable", { last: doc.answerable_pages });
  }
  if (doc.status === "embedding" && doc.chunks > 0 && !doc.pages) {
    return t("readingAnswerableText", { n: doc.chunks });
  }
  return UNFINISHED.has(doc.status) ? t(doc.status, { pct }) : t(doc.status);
}

export function startLibrary({ failures }) {
  const table = document.getElementById("documents");
  const body = table.querySelector("tbody");
  const empty = document.getElementById("no-documents");
  const count = document.getElementById("library-count");
  const announcer = document.getElementById("announcer");
  const listeners = [];
  const deletedListeners = [];
  let documents = [];
  let timer = null;
  let generation = 0; // a refresh started before a switch of knowledge base is dropped

  function render() {
    body.replaceChildren();
    for (const doc of documents) {
      const row = document.createElement("tr");
      row.dataset.id = doc.id;
      row.dataset.status = doc.status;
      row.dataset.answerablePages = doc.answerable_pages ?? 0;
      const name = document.createElement("th");
      name.scope = "row";
      name.dataset.label = t("colName");
      const text = document.createElement("span");
      text.className = "doc-name";
      text.textContent = doc.filename;
      text.title = doc.filename;
      name.append(text);
      const status = cell(statusText(doc), t("colStatus"));
      status.className = `status status-${doc.status}`;
      const actions = document.createElement("td");
      actions.className = "needs-write";
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
    count.textContent = documents.length ? `(${documents.length})` : "";
  }

  async function removeDocument(doc, button) {
    if (!(await confirmDelete(doc.filename))) {
      button.focus();
      return;
    }
    try {
      await request(scoped(`documents/${encodeURIComponent(doc.id)}`), { method: "DELETE" });
      announcer.textContent = t("deleted", { name: doc.filename });
    } catch (error) {
      announcer.textContent = errorText(error.code, error.message);
    }
    for (const listener of deletedListeners) listener(doc.id);
    await refresh();
    document.getElementById("upload-heading").focus?.();
  }

  async function refresh() {
    clearTimeout(timer);
    const mine = generation;
    let all;
    try {
      all = (await getJSON(scoped(`documents?limit=${PAGE}`))).data;
    } catch (error) {
      announcer.textContent = errorText(error.code, error.message);
      return;
    }
    if (mine !== generation) return;
    documents = all.filter((d) => d.status !== "failed");
    failures.setRecorded(all.filter((d) => d.status === "failed"));
    render();
    for (const listener of listeners) listener(documents);
    // Keep the statuses moving while something is still being ingested.
    if (documents.some((d) => UNFINISHED.has(d.status))) timer = setTimeout(refresh, 1000);
  }

  onLanguageChange(render);
  return {
    refresh,
    /** After a switch of knowledge base: empty until the new base's list arrives. */
    reset() {
      generation += 1;
      clearTimeout(timer);
      documents = [];
      render();
      return refresh();
    },
    documents: () => documents,
    byId: (id) => documents.find((d) => d.id === id),
    onChange: (listener) => listeners.push(listener),
    onDeleted: (listener) => deletedListeners.push(listener),
  };
}
