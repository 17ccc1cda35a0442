// Uploads: many files at once, each with its own progress bar (the bytes sent, then the
// ingest job's stages from GET /jobs/{id}) and its own error in the API's words.

import { getJSON, uploadFile } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";

const POLL_MS = 500;
const list = document.getElementById("uploads");
const entries = [];

function stageText(entry) {
  const pct = Math.round(entry.progress * 100);
  switch (entry.stage) {
    case "uploading":
      return t("uploading", { pct });
    case "ready":
      return entry.existing ? t("alreadyStored") : t("ready");
    case "failed":
      return `${t("failed")}: ${entry.message}`;
    default:
      return t(entry.stage, { pct });
  }
}

function render(entry) {
  const { item, bar, status } = entry;
  item.dataset.stage = entry.stage;
  bar.value = entry.stage === "ready" ? 1 : entry.progress;
  status.textContent = stageText(entry);
  if (entry.stage === "failed") {
    bar.hidden = true;
    status.setAttribute("role", "alert");
  }
}

function addEntry(file) {
  const item = document.createElement("li");
  item.className = "upload";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", file.name);
  const status = document.createElement("span");
  status.className = "upload-status";
  item.append(name, bar, status);
  list.prepend(item);
  const entry = { file, item, bar, status, stage: "uploading", progress: 0, message: "" };
  entries.push(entry);
  render(entry);
  return entry;
}

async function follow(entry, jobId, onChange) {
  for (;;) {
    let job;
    try {
      job = await getJSON(`jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      entry.stage = "failed";
      entry.message = error.message || t("networkError");
      render(entry);
      return;
    }
    const changed = job.status !== entry.stage;
    entry.stage = job.status;
    entry.progress = job.progress;
    if (job.status === "failed") entry.message = job.error?.message ?? "";
    render(entry);
    if (changed) onChange();
    if (job.status === "ready" || job.status === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function send(entry, onChange) {
  let result;
  try {
    result = await uploadFile(entry.file, (share) => {
      entry.progress = share;
      render(entry);
    });
  } catch (error) {
    entry.stage = "failed";
    entry.message = error.message || t("networkError");
    render(entry);
    return;
  }
  const { status, body } = result;
  const job = body?.jobs?.[0];
  if (status === 202 && job) {
    entry.existing = job.status === "ready" && !job.created;
    entry.stage = job.status;
    entry.progress = job.progress;
    render(entry);
    onChange();
    await follow(entry, job.id, onChange);
    return;
  }
  entry.stage = "failed";
  entry.message =
    body?.errors?.[0]?.message ?? body?.error?.message ?? `${status} ${t("networkError")}`;
  render(entry);
}

export function startUploads({ onChange }) {
  const input = document.getElementById("file-input");
  const zone = document.getElementById("dropzone");
  const take = (files) => {
    for (const file of files) send(addEntry(file), onChange);
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
}
