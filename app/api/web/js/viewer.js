// The citation viewer. A PDF opens at the cited page in pdf.js (canvas plus text layer) with
// the quoted passage highlighted; other formats show the extracted text of the cited page
// with the cited chunk marked (GET /documents/{id}/content).

import * as pdfjs from "../vendor/pdfjs/pdf.min.mjs";
import { getJSON, request } from "./api.js";
import { t } from "./i18n.js";

const PDFJS = new URL("../vendor/pdfjs/", import.meta.url).href;
pdfjs.GlobalWorkerOptions.workerSrc = `${PDFJS}pdf.worker.min.mjs`;
// Character maps for CJK fonts, and the JPEG 2000 decoder that scanned pages often need.
const PDF_OPTIONS = { cMapUrl: `${PDFJS}cmaps/`, cMapPacked: true, wasmUrl: `${PDFJS}wasm/` };

const dialog = document.getElementById("viewer");
const title = document.getElementById("viewer-title");
const body = document.getElementById("viewer-body");
const nav = document.getElementById("viewer-nav");
const indicator = document.getElementById("page-indicator");
const note = document.getElementById("viewer-note");
const openPdfs = new Map(); // document id -> pdf.js document, kept while the page is open
let shown = null; // { pdf, page, quote }

dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
document.getElementById("previous-page").addEventListener("click", () => turnPage(-1));
document.getElementById("next-page").addEventListener("click", () => turnPage(1));

/** Letters and digits only, lower-cased: line breaks, hyphenation and spacing differ between
 * the extracted chunk and the PDF's text items, the words do not. */
function squeeze(text) {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
}

/** Where `quote` lies in `haystack` (both squeezed): the whole of it, or its first and last
 * 30 characters when the middle differs. */
function locate(haystack, quote) {
  if (!quote) return null;
  const whole = haystack.indexOf(quote);
  if (whole >= 0) return [whole, whole + quote.length];
  const head = haystack.indexOf(quote.slice(0, 30));
  const tail = haystack.indexOf(quote.slice(-30), head < 0 ? 0 : head);
  if (head >= 0 && tail >= 0 && tail - head < quote.length * 2) return [head, tail + 30];
  if (head >= 0) return [head, head + Math.min(quote.length, 30)];
  if (tail >= 0) return [tail, tail + 30];
  return null;
}

function highlightTextLayer(layer, quote) {
  let joined = "";
  const owner = [];
  layer.textContentItemsStr.forEach((text, i) => {
    const part = squeeze(text);
    joined += part;
    for (let k = 0; k < part.length; k++) owner.push(i);
  });
  const found = locate(joined, squeeze(quote));
  if (!found) return 0;
  const marked = new Set(owner.slice(found[0], found[1]));
  for (const i of marked) layer.textDivs[i].classList.add("hit");
  return marked.size;
}

async function renderPdfPage(number) {
  const { pdf, quote } = shown;
  shown.page = number;
  const page = await pdf.getPage(number);
  const width = Math.max(body.clientWidth - 24, 260); // inside the body's padding
  const viewport = page.getViewport({ scale: Math.min(width / page.getViewport({ scale: 1 }).width, 2) });
  const ratio = window.devicePixelRatio || 1;
  const sheet = document.createElement("div");
  sheet.className = "pdf-page";
  sheet.dataset.page = number;
  // pdf.js sizes the text layer's spans from this variable, so they lie over the glyphs.
  sheet.style.setProperty("--total-scale-factor", String(viewport.scale));
  sheet.style.width = `${Math.floor(viewport.width)}px`;
  sheet.style.height = `${Math.floor(viewport.height)}px`;
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", t("pageOf", { page: number, pages: pdf.numPages }));
  const layerDiv = document.createElement("div");
  layerDiv.className = "textLayer";
  sheet.append(canvas, layerDiv);
  body.replaceChildren(sheet);
  title.textContent = `${shown.filename} · ${t("page", { page: number })}`;
  indicator.textContent = t("pageOf", { page: number, pages: pdf.numPages });
  indicator.dataset.page = number;
  await page.render({
    canvas,
    canvasContext: canvas.getContext("2d"),
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  }).promise;
  const layer = new pdfjs.TextLayer({
    textContentSource: page.streamTextContent(),
    container: layerDiv,
    viewport,
  });
  await layer.render();
  const hits = highlightTextLayer(layer, quote);
  sheet.querySelector(".hit")?.scrollIntoView({ block: "center" });
  return hits;
}

async function turnPage(step) {
  if (!shown) return;
  const next = shown.page + step;
  if (next >= 1 && next <= shown.pdf.numPages) await renderPdfPage(next);
}

async function showPdf(source) {
  let pdf = openPdfs.get(source.document_id);
  if (!pdf) {
    const response = await request(`documents/${encodeURIComponent(source.document_id)}/file`);
    const data = new Uint8Array(await response.arrayBuffer());
    pdf = await pdfjs.getDocument({ ...PDF_OPTIONS, data }).promise;
    openPdfs.set(source.document_id, pdf);
  }
  nav.hidden = false;
  shown = { pdf, page: source.page || 1, quote: source.quote || source.text, filename: source.filename };
  // A chunk can run over several pages: the quote is on one of them.
  const first = shown.page;
  const last = Math.min(Math.max(source.page_end || first, first), pdf.numPages);
  let hits = 0;
  for (let number = first; number <= last && !hits; number++) hits = await renderPdfPage(number);
  if (!hits && last !== first) await renderPdfPage(first);
  note.hidden = hits > 0;
  note.textContent = t("quoteNotFound");
  if (!hits) body.append(quoteBlock(shown.quote));
}

function quoteBlock(text) {
  const block = document.createElement("blockquote");
  block.textContent = text;
  return block;
}

/** The page's text with the chunk wrapped in <mark>, matched word by word so that spacing
 * and line breaks do not matter. */
function markedText(text, chunk) {
  const words = chunk.split(/\s+/).filter(Boolean).slice(0, 60);
  const pre = document.createElement("pre");
  pre.className = "page-text";
  for (let n = words.length; n >= Math.min(words.length, 4); n = Math.floor(n / 2)) {
    const escaped = words.slice(0, n).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    const match = new RegExp(escaped.join("\\s+")).exec(text);
    if (match) {
      const end = n === words.length ? match.index + match[0].length : match.index + chunk.length;
      const mark = document.createElement("mark");
      mark.textContent = text.slice(match.index, end);
      pre.append(text.slice(0, match.index), mark, text.slice(end));
      return pre;
    }
    if (n <= 1) break;
  }
  pre.textContent = text;
  return null;
}

async function showText(source) {
  nav.hidden = true;
  const content = await getJSON(`documents/${encodeURIComponent(source.document_id)}/content`);
  const pages = source.page
    ? content.pages.filter((p) => p.number === source.page)
    : content.pages;
  for (const page of pages) {
    const pre = markedText(page.text, source.text);
    if (pre) {
      body.replaceChildren(pre);
      note.hidden = true;
      pre.querySelector("mark").scrollIntoView({ block: "center" });
      return;
    }
  }
  const fallback = document.createElement("pre");
  fallback.className = "page-text";
  fallback.textContent = pages.map((p) => p.text).join("\n\n");
  body.replaceChildren(quoteBlock(source.text), fallback);
  note.hidden = false;
  note.textContent = t("quoteNotFound");
}

/** Opens the viewer on a citation or source: { document_id, filename, page, page_end, text,
 * quote }. */
export async function openCitation(source) {
  const opener = document.activeElement;
  title.textContent = source.page
    ? `${source.filename} · ${t("page", source)}`
    : source.filename;
  body.replaceChildren(document.createTextNode(t("loading")));
  note.hidden = true;
  nav.hidden = true;
  shown = null;
  dialog.showModal();
  dialog.addEventListener("close", () => opener?.focus?.(), { once: true });
  try {
    const record = await getJSON(`documents/${encodeURIComponent(source.document_id)}`);
    if (record.media_type === "application/pdf") await showPdf(source);
    else await showText(source);
  } catch (error) {
    body.replaceChildren(document.createTextNode(error.message));
  }
}
