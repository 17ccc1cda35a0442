// Failed uploads, listed apart from the library, each with its reason and a Dismiss button.
// Two kinds: a file the server refused at once (nothing stored: kept in this browser, per
// knowledge base, so a reload still shows it until dismissed) and a file whose background
// job failed (the server keeps its record: dismissing deletes it).

import { currentBase, request, scoped } from "./api.js";
import { errorText, onLanguageChange, t } from "./i18n.js";

const panel = document.getElementById("failed-panel");
const list = document.getElementById("failed");
let refused = []; // { key, filename, code, message }
let recorded = []; // documents with status "failed"

function storageKey() {
  return `docrag.failedUploads.${currentBase() ?? "default"}`;
}

function load() {
  try {
    refused = JSON.parse(localStorage.getItem(storageKey()) ?? "[]");
  } catch {
    refused = [];
  }
}

function save() {
  if (refused.length) localStorage.setItem(storageKey(), JSON.stringify(refused));
  else localStorage.removeItem(storageKey());
}

function items() {
  const fromServer = recorded.map((doc) => ({
    key: doc.id,
    documentId: doc.id,
    filename: doc.filename,
    code: doc.error?.code ?? "ingest_failed",
    message: doc.error?.message ?? "",
  }));
  const known = new Set(fromServer.map((f) => f.key));
  return [...refused.filter((f) => !known.has(f.key)), ...fromServer];
}

function render() {
  const all = items();
  list.replaceChildren();
  for (const failure of all) {
    const item = document.createElement("li");
    item.className = "failed-item";
    item.dataset.key = failure.key;
    const name = document.createElement("span");
    name.className = "failed-name";
    name.textContent = failure.filename;
    name.title = failure.filename;
    const reason = document.createElement("span");
    reason.className = "failed-reason";
    reason.textContent = errorText(failure.code, failure.message);
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "secondary small";
    dismiss.textContent = t("dismiss");
    dismiss.setAttribute("aria-label", t("dismissFile", { name: failure.filename }));
    dismiss.addEventListener("click", () => dismissOne(failure));
    item.append(name, reason, dismiss);
    list.append(item);
  }
  panel.hidden = all.length === 0;
  document.getElementById("dismiss-all").hidden = all.length < 2;
}

async function dismissOne(failure) {
  refused = refused.filter((f) => f.key !== failure.key);
  save();
  if (failure.documentId) {
    recorded = recorded.filter((d) => d.id !== failure.documentId);
    try {
      await request(scoped(`documents/${encodeURIComponent(failure.documentId)}`), {
        method: "DELETE",
      });
    } catch {
      // already gone
    }
  }
  render();
}

export function startFailures() {
  load();
  render();
  document.getElementById("dismiss-all").addEventListener("click", async () => {
    for (const failure of items()) await dismissOne(failure);
  });
  onLanguageChange(render);
  return {
    /** A file the server refused before storing anything. */
    addRefused(filename, code, message) {
      refused.push({ key: `${Date.now()}-${Math.random()}`, filename, code, message });
      save();
      render();
    },
    /** The library's documents whose ingest failed. */
    setRecorded(documents) {
      recorded = documents;
      render();
    },
    forget(documentId) {
      recorded = recorded.filter((d) => d.id !== documentId);
      render();
    },
    /** After a switch of knowledge base. */
    reload() {
      recorded = [];
      load();
      render();
    },
  };
}
