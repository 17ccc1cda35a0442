// Knowledge bases: the switcher in the header (GET /knowledge-bases), a "new knowledge
// base" dialog (POST /knowledge-bases), the caller's role in the chosen base (a read key sees
// no upload or delete controls) and the base's folder sync. A server without knowledge bases
// answers 404: the switcher stays hidden and the page works as with one base.

import { ApiError, getJSON, request, useBase } from "./api.js";
import { errorText, onLanguageChange, t } from "./i18n.js";

const STORAGE_KEY = "docrag.knowledgeBase";
const SYNC_POLL_MS = 5000;
const switcher = document.getElementById("kb-switch");
const select = document.getElementById("knowledge-base");
const createButton = document.getElementById("new-kb");
const syncLine = document.getElementById("kb-sync");
const dialog = document.getElementById("kb-dialog");
const nameInput = document.getElementById("kb-name");
const dialogError = document.getElementById("kb-error");

let bases = []; // as GET /knowledge-bases gives them
let current = null;
let syncTimer = null;

function chosen() {
  return bases.find((b) => b.name === current);
}

function applyRole() {
  const role = chosen()?.role ?? "write";
  document.body.dataset.role = role;
  document.getElementById("read-only").hidden = role !== "read";
  createButton.hidden = !bases.some((b) => b.role === "admin");
}

function syncText(sync) {
  const key = `syncState_${sync.state}`;
  const state = t(key) === key ? sync.state : t(key); // a state the page has no words for
  const parts = [
    t("syncStatus", { folder: sync.folder, watch: sync.watch ? t("syncWatching") : "", state }),
  ];
  if (Number.isInteger(sync.files)) parts.push(t("syncFiles", { n: sync.files }));
  if (sync.failed?.length) parts.push(t("syncFailed", { n: sync.failed.length }));
  if (sync.last_pass_at) {
    parts.push(t("syncLast", { at: new Date(sync.last_pass_at).toLocaleString() }));
  }
  return parts.join(" · ");
}

function renderSync() {
  clearTimeout(syncTimer);
  const sync = chosen()?.sync;
  syncLine.hidden = !sync;
  syncLine.replaceChildren();
  if (!sync) return;
  syncLine.append(syncText(sync));
  if (sync.error) syncLine.append(` — ${sync.error}`);
  if (sync.failed?.length) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = t("syncFailed", { n: sync.failed.length });
    const list = document.createElement("ul");
    for (const failure of sync.failed) {
      const item = document.createElement("li");
      item.textContent = `${failure.path}: ${failure.error}`;
      list.append(item);
    }
    details.append(summary, list);
    syncLine.append(details);
  }
  syncTimer = setTimeout(() => load().then(render), SYNC_POLL_MS);
}

function render() {
  select.replaceChildren();
  for (const base of bases) {
    const option = document.createElement("option");
    option.value = base.name;
    option.textContent = t("documentsCount", { name: base.name, n: base.documents });
    select.append(option);
  }
  select.value = current;
  switcher.hidden = false;
  applyRole();
  renderSync();
}

/** Reads the bases; false when the server has none (404). */
async function load() {
  try {
    bases = (await getJSON("knowledge-bases")).data;
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return false;
    throw error;
  }
}

function askForName() {
  nameInput.value = "";
  dialogError.hidden = true;
  dialog.returnValue = "";
  dialog.showModal();
  nameInput.focus();
}

export async function startKnowledgeBases({ onSwitch }) {
  let available;
  try {
    available = await load();
  } catch {
    available = false; // the page still works on the default base
  }
  if (!available || !bases.length) {
    useBase(null);
    return { available: false };
  }
  const saved = localStorage.getItem(STORAGE_KEY);
  current = bases.some((b) => b.name === saved)
    ? saved
    : (bases.find((b) => b.name === "default") ?? bases[0]).name;
  useBase(current);
  render();

  async function switchTo(name) {
    current = name;
    localStorage.setItem(STORAGE_KEY, name);
    useBase(name);
    render();
    await onSwitch(name);
  }

  select.addEventListener("change", () => switchTo(select.value));
  createButton.addEventListener("click", askForName);
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    if (event.submitter?.value !== "create") return;
    event.preventDefault(); // the dialog stays open until the server said yes
    const name = nameInput.value.trim();
    try {
      await request("knowledge-bases", { method: "POST", json: { name } });
    } catch (error) {
      dialogError.textContent = errorText(error.code, error.message);
      dialogError.hidden = false;
      return;
    }
    dialog.close("create");
    await load();
    await switchTo(name);
  });
  onLanguageChange(() => bases.length && render());
  return {
    available: true,
    /** The document counts in the switcher move with uploads and deletes. */
    async refresh() {
      if (await load().catch(() => false)) render();
    },
  };
}
