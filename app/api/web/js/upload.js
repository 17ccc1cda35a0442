// Uploads: many files at once, each with its own progress bar (the bytes sent, then the
// ingest job's stages from GET /jobs/{id}). A finished upload leaves the list (the document
// is in the library by then); a failed one moves to the failed uploads, with its reason.

import { currentBase, errorOf, getJSON, scoped, uploadFile } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";

const POLL_MS = 500;
// A finished upload stays this long, so its "ready" is seen, then leaves the list.
const CLEAR_AFTER_MS = 2500;
const list = document.getElementById("uploads");
const entries = [];

function stageText(entry) {
  const pct = Math.round(entry.progress * 100);
  switch (entry.stage) {
    case "uploading":
      return t("uploading", { pct });
    case "ready":
      return entry.existing ? t("alreadyStored") : t("ready");
    case "embedding":
      return entry.answerablePages
        ? t("readingAnswerable", { last: entry.answerablePages })
        : t("embedding", { pct });
    default:
      return t(entry.stage, { pct });
  }
}

function render(entry) {
  const { item, bar, status } = entry;
  item.dataset.stage = entry.stage;
  item.hidden = entry.base !== currentBase();
  bar.value = entry.stage === "ready" ? 1 : entry.progress;
  status.textContent = stageText(entry);
}

function addEntry(file) {
  const item = document.createElement("li");
  item.className = "upload";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name;
  name.title = file.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", file.name);
  const status = document.createElement("span");
  status.className = "upload-status";
  item.append(name, bar, status);
  list.prepend(item);
  const entry = {
    file,
    item,
    bar,
    status,
    base: currentBase(),
    stage: "uploading",
    progress: 0,
    documentId: null,
    answerablePages: 0,
  };
  entries.push(entry);
  render(entry);
  return entry;
}

function drop(entry) {
  entry.item.remove();
  const at = entries.indexOf(entry);
  if (at >= 0) entries.splice(at, 1);
}

export function startUploads({ onChange, failures }) {
  function finish(entry) {
    render(entry);
    setTimeout(() => drop(entry), CLEAR_AFTER_MS);
  }

  function fail(entry, code, message) {
    drop(entry);
    if (!entry.documentId) failures.addRefused(entry.file.name, code, message);
    onChange(); // a job's failed document is listed from the library's records
  }

  async function follow(entry, jobId) {
    for (;;) {
      let job;
      try {
        job = await getJSON(scoped(`jobs/${encodeURIComponent(jobId)}`));
      } catch (error) {
        if (error.status === 404) return drop(entry); // deleted meanwhile
        fail(entry, error.code, error.message);
        return;
      }
      if (!entries.includes(entry)) return; // its document was deleted
      const changed =
        job.status !== entry.stage || (job.answerable_pages ?? 0) !== entry.answerablePages;
      entry.stage = job.status;
      entry.progress = job.progress;
      entry.answerablePages = job.answerable_pages ?? 0;
      if (job.status === "failed") {
        const error = job.error ?? {};
        fail(entry, error.code, error.message ?? "");
        return;
      }
      render(entry);
      if (changed) onChange();
      if (job.status === "ready") return finish(entry);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function send(entry) {
    let result;
    try {
      result = await uploadFile(entry.file, (share) => {
        entry.progress = share;
        render(entry);
      });
    } catch (error) {
      fail(entry, error.code, error.message);
      return;
    }
    const { status, body } = result;
    const job = body?.jobs?.[0];
    if (status === 202 && job) {
      entry.existing = job.status === "ready" && !job.created;
      entry.documentId = job.document_id;
      entry.stage = job.status;
      entry.progress = job.progress;
      render(entry);
      onChange();
      if (job.status === "ready") return finish(entry);
      await follow(entry, job.id);
      return;
    }
    const error = errorOf(body, status);
    fail(entry, error.code, error.message);
  }

  const input = document.getElementById("file-input");
  const zone = document.getElementById("dropzone");
  const take = (files) => {
    for (const file of files) send(addEntry(file));
  };
  input.addEventListener("change", () => {
    take([...input.files]);
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take([...event.dataTransfer.files]);
  });
  onLanguageChange(() => entries.forEach(render));
  return {
    /** A deleted document leaves the upload list too. */
    forget(documentId) {
      for (const entry of entries.filter((e) => e.documentId === documentId)) drop(entry);
    },
    /** After a switch of knowledge base: only its uploads show. */
    refresh() {
      entries.forEach(render);
    },
  };
}
