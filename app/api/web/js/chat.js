// The chat: POST /ask with stream: true. Sources arrive first (`citations` event), the
// answer streams in (`delta`), and `done` brings the checked citations, rendered as chips
// [n] that open the cited page. Follow-ups send the conversation so far as `history`.

import { readEvents, request } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";
import { openCitation } from "./viewer.js";

const conversation = document.getElementById("conversation");
const history = [];

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
    item.append(element("span", "source-name", `${source.filename}${where}`));
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

function addTurn(question) {
  const mine = element("li", "turn user");
  mine.append(element("span", "who", t("you")), element("p", "text", question));
  const reply = element("li", "turn assistant busy");
  const label = element("span", "who", t("answer"));
  const sourcesBlock = element("div", "sources");
  sourcesBlock.hidden = true;
  sourcesBlock.append(element("h3", "", t("sources")));
  const sourceList = element("ol", "source-list");
  sourcesBlock.append(sourceList);
  const answer = element("p", "text", t("thinking"));
  reply.append(label, sourcesBlock, answer);
  conversation.append(mine, reply);
  reply.scrollIntoView({ block: "end" });
  return { reply, sourcesBlock, sourceList, answer, label };
}

function selectedDocuments() {
  return [...document.querySelectorAll("#filter-options input:checked")].map((i) => i.value);
}

async function ask(question, button) {
  const turn = addTurn(question);
  const payload = { question, stream: true };
  if (history.length) payload.history = [...history];
  const chosen = selectedDocuments();
  if (chosen.length) payload.document_ids = chosen;
  let streamed = "";
  let sources = [];
  button.disabled = true;
  try {
    const response = await request("ask", { method: "POST", json: payload });
    await readEvents(response, (name, data) => {
      if (name === "citations") {
        sources = data.sources;
        renderSources(turn.sourceList, sources);
        turn.sourcesBlock.hidden = sources.length === 0;
        turn.answer.textContent = "";
      } else if (name === "delta") {
        streamed += data.text;
        turn.answer.textContent = streamed;
      } else if (name === "done") {
        finish(turn, question, data);
      } else if (name === "error") {
        fail(turn, data.error?.message ?? "");
      }
    });
  } catch (error) {
    fail(turn, error.message || t("networkError"));
  } finally {
    turn.reply.classList.remove("busy");
    button.disabled = false;
  }
}

function finish(turn, question, done) {
  const byNumber = new Map();
  for (const source of done.sources ?? []) byNumber.set(source.n, source);
  // A cited source carries the quote that supports the answer: the viewer highlights it.
  for (const citation of done.citations ?? []) byNumber.set(citation.n, citation);
  renderSources(turn.sourceList, [...byNumber.values()].sort((a, b) => a.n - b.n));
  turn.sourcesBlock.hidden = byNumber.size === 0;
  renderAnswer(turn.answer, done.answer, byNumber);
  if (!done.grounded) {
    turn.reply.classList.add("not-found");
    turn.label.textContent = t("notFound");
  }
  history.push({ role: "user", content: question }, { role: "assistant", content: done.answer });
}

function fail(turn, message) {
  turn.reply.classList.add("failed");
  turn.answer.textContent = message;
  turn.answer.setAttribute("role", "alert");
}

function renderFilter(documents) {
  const options = document.getElementById("filter-options");
  const chosen = new Set(selectedDocuments());
  options.replaceChildren();
  for (const doc of documents.filter((d) => d.status === "ready")) {
    const label = element("label", "filter-option");
    const box = element("input");
    box.type = "checkbox";
    box.value = doc.id;
    box.checked = chosen.has(doc.id);
    box.addEventListener("change", updateFilterSummary);
    label.append(box, ` ${doc.filename}`);
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

export function startChat({ library }) {
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
    history.length = 0;
    conversation.replaceChildren();
    input.focus();
  });
  library.onChange(renderFilter);
  onLanguageChange(() => renderFilter(library.documents()));
}
