// The chat: POST /ask with stream: true. Sources arrive first (`citations` event), the
// answer streams in (`delta`), and `done` brings the checked citations, rendered as chips
// [n] that open the cited page. Follow-ups send the conversation so far as `history`.
// The conversation is data (`turns`), drawn from it again on a language switch and kept in
// this tab's sessionStorage, one per knowledge base, so a reload keeps it.

import { currentBase, readEvents, request } from "./api.js";
import { answers } from "./documents.js";
import { errorText, onLanguageChange, t } from "./i18n.js";
import { openCitation } from "./viewer.js";

const conversation = document.getElementById("conversation");
// { question, state: "busy" | "done" | "failed", answer, grounded, sources, stillReading,
//   error: { code, message } }
let turns = [];

function storageKey() {
  return `docrag.conversation.${currentBase() ?? "default"}`;
}

function save() {
  const finished = turns.filter((turn) => turn.state !== "busy");
  try {
    const data = JSON.stringify(finished, (key, value) => (key === "view" ? undefined : value));
    if (finished.length) sessionStorage.setItem(storageKey(), data);
    else sessionStorage.removeItem(storageKey());
  } catch {
    // storage full or refused: the conversation still works, it is just not kept
  }
}

function load() {
  try {
    turns = JSON.parse(sessionStorage.getItem(storageKey()) ?? "[]");
  } catch {
    turns = [];
  }
}

function history() {
  return turns
    .filter((turn) => turn.state === "done")
    .flatMap((turn) => [
      { role: "user", content: turn.question },
      { role: "assistant", content: turn.answer },
    ]);
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function sourceLabel(source) {
  return source.page ? t("openSource", source) : t("openSourceNoPage", source);
}

function chip(source) {
  const button = element("button", "chip", `[${source.n}]`);
  button.type = "button";
  button.dataset.n = source.n;
  button.setAttribute("aria-label", sourceLabel({ ...source, name: source.filename }));
  button.addEventListener("click", () => openCitation(source));
  return button;
}

function renderSources(list, sources) {
  list.replaceChildren();
  for (const source of sources) {
    const item = element("li", "source");
    item.append(chip(source));
    const where = source.page ? ` ${t("page", source)}` : "";
    const name = element("span", "source-name", `${source.filename}${where}`);
    name.title = source.filename;
    item.append(name);
    list.append(item);
  }
}

/** The answer's text with every [n] that names a source turned into a chip. */
function renderAnswer(target, text, byNumber) {
  target.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const source = byNumber.get(Number(match[1]));
    if (!source) continue;
    target.append(text.slice(last, match.index), chip(source));
    last = match.index + match[0].length;
  }
  target.append(text.slice(last));
}

function stillReadingText(reading) {
  return reading.answerable_pages
    ? t("stillReadingPages", { name: reading.filename, last: reading.answerable_pages })
    : t("stillReadingText", { name: reading.filename, n: reading.chunks });
}

/** The two list items of one turn, drawn from its data. */
function drawTurn(turn) {
  const mine = element("li", "turn user");
  mine.append(element("span", "who", t("you")), element("p", "text", turn.question));
  const reply = element("li", "turn assistant");
  const label = element("span", "who", t("answer"));
  const sourcesBlock = element("div", "sources");
  sourcesBlock.append(element("h3", "", t("sources")));
  const sourceList = element("ol", "source-list");
  sourcesBlock.append(sourceList);
  const text = element("p", "text");
  const notes = element("div", "notes");
  reply.append(label, sourcesBlock, text, notes);
  turn.view = { reply, label, sourcesBlock, sourceList, text, notes };
  fill(turn);
  return [mine, reply];
}

/** Brings a turn's reply up to date with its data. */
function fill(turn) {
  const { reply, label, sourcesBlock, sourceList, text, notes } = turn.view;
  reply.classList.toggle("busy", turn.state === "busy");
  reply.classList.toggle("failed", turn.state === "failed");
  reply.classList.toggle("not-found", turn.state === "done" && !turn.grounded);
  label.textContent = turn.state === "done" && !turn.grounded ? t("notFound") : t("answer");
  const sources = turn.sources ?? [];
  const byNumber = new Map(sources.map((s) => [s.n, s]));
  renderSources(sourceList, sources);
  sourcesBlock.hidden = sources.length === 0;
  text.removeAttribute("role");
  if (turn.state === "failed") {
    text.textContent = turn.error ? errorText(turn.error.code, turn.error.message) : "";
    text.setAttribute("role", "alert");
  } else if (turn.state === "done") {
    renderAnswer(text, turn.answer, byNumber);
  } else {
    text.textContent = turn.streamed || (sources.length ? "" : t("thinking"));
  }
  notes.replaceChildren(
    ...(turn.stillReading ?? []).map((r) => element("p", "still-reading", stillReadingText(r))),
  );
}

function drawAll() {
  conversation.replaceChildren();
  for (const turn of turns) conversation.append(...drawTurn(turn));
}

function selectedDocuments() {
  return [...document.querySelectorAll("#filter-options input:checked")].map((i) => i.value);
}

async function ask(question, button) {
  const payload = { question, stream: true };
  const earlier = history();
  if (earlier.length) payload.history = earlier;
  const chosen = selectedDocuments();
  if (chosen.length) payload.document_ids = chosen;
  if (currentBase()) payload.knowledge_base = currentBase();
  const turn = { question, state: "busy", answer: "", sources: [], streamed: "" };
  const key = storageKey();
  turns.push(turn);
  conversation.append(...drawTurn(turn));
  turn.view.reply.scrollIntoView({ block: "end" });
  button.disabled = true;
  try {
    const response = await request("ask", { method: "POST", json: payload });
    await readEvents(response, (name, data) => {
      if (name === "citations") {
        turn.sources = data.sources;
        turn.stillReading = data.still_reading ?? [];
        showMode(data.mode);
      } else if (name === "delta") {
        turn.streamed += data.text;
      } else if (name === "done") {
        // A cited source carries the quote that supports the answer: the viewer marks it.
        const byNumber = new Map((data.sources ?? []).map((s) => [s.n, s]));
        for (const citation of data.citations ?? []) byNumber.set(citation.n, citation);
        turn.sources = [...byNumber.values()].sort((a, b) => a.n - b.n);
        turn.answer = data.answer;
        turn.grounded = data.grounded;
        turn.stillReading = data.still_reading ?? turn.stillReading;
        turn.state = "done";
      } else if (name === "error") {
        turn.state = "failed";
        turn.error = data.error ?? { code: "chat_model_error", message: "" };
      }
      fill(turn);
    });
    if (turn.state === "busy") {
      turn.state = "failed";
      turn.error = { code: "interrupted", message: t("interrupted") };
    }
  } catch (error) {
    turn.state = "failed";
    turn.error = { code: error.code, message: error.message };
  } finally {
    delete turn.streamed;
    if (turn.view) fill(turn);
    button.disabled = false;
    if (key === storageKey()) save();
  }
}

function showMode(mode) {
  document.getElementById("extractive-note").hidden = mode !== "extractive";
}

function renderFilter(documents) {
  const options = document.getElementById("filter-options");
  const chosen = new Set(selectedDocuments());
  options.replaceChildren();
  for (const doc of documents.filter(answers)) {
    const label = element("label", "filter-option");
    const box = element("input");
    box.type = "checkbox";
    box.value = doc.id;
    box.checked = chosen.has(doc.id);
    box.addEventListener("change", updateFilterSummary);
    const name = element("span", "", doc.filename);
    name.title = doc.filename;
    label.append(box, name);
    options.append(label);
  }
  updateFilterSummary();
}

function updateFilterSummary() {
  const count = selectedDocuments().length;
  document.getElementById("filter-summary").textContent = count
    ? t("filterSome", { count })
    : t("filterNone");
}

export function startChat({ library, mode }) {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || button.disabled) return;
    input.value = "";
    ask(question, button);
  });
  // Enter asks, Shift+Enter starts a new line.
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("new-conversation").addEventListener("click", () => {
    turns = [];
    save();
    conversation.replaceChildren();
    input.focus();
  });
  library.onChange(renderFilter);
  onLanguageChange(() => {
    renderFilter(library.documents());
    drawAll();
  });
  load();
  drawAll();
  if (mode) showMode(mode);
  return {
    showMode,
    /** After a switch of knowledge base: that base's conversation. */
    reload() {
      load();
      drawAll();
      renderFilter([]);
    },
  };
}
