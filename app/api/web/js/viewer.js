// The citation viewer. A PDF opens at the cited page in pdf.js (canvas plus text layer) with
// the quoted passage highlighted, at a size whose text can be read (on a phone wider than the
// screen, scrolled to the quote), with zoom buttons, Ctrl+wheel and two-finger pinch; other
// formats show the extracted text of the cited page with the quote marked
// (GET /documents/{id}/content), ‹ › turning its pages.

import * as pdfjs from "../vendor/pdfjs/pdf.min.mjs";
import { getJSON, request, scoped } from "./api.js";
import { errorText, t } from "./i18n.js";

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
const zoomBar = document.getElementById("viewer-zoom");
const zoomLevel = document.getElementById("zoom-level");
const openPdfs = new Map(); // document id -> pdf.js document, kept while the page is open
// A PDF page is never drawn smaller than this (CSS px per PDF point): below it, body text is
// too small to read, so a narrow screen scrolls sideways instead.
const MIN_READABLE_SCALE = 1.0;
const ZOOM_STEP = 1.25;
const [MIN_SCALE, MAX_SCALE] = [0.25, 5];
// { kind: "pdf", pdf, page, quote, filename, scale } or { kind: "text", pages, index, quote }
let shown = null;

dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
document.getElementById("previous-page").addEventListener("click", () => turnPage(-1));
document.getElementById("next-page").addEventListener("click", () => turnPage(1));
document.getElementById("zoom-in").addEventListener("click", () => zoomTo(shown?.scale * ZOOM_STEP));
document.getElementById("zoom-out").addEventListener("click", () => zoomTo(shown?.scale / ZOOM_STEP));
document.getElementById("zoom-fit").addEventListener("click", () => zoomTo(fitScale()));
body.addEventListener(
  "wheel",
  (event) => {
    if (!event.ctrlKey || shown?.kind !== "pdf") return; // a trackpad pinch arrives so
    event.preventDefault();
    zoomTo(shown.scale * (event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP));
  },
  { passive: false },
);
let pinch = null; // { distance, scale } while two fingers are down
body.addEventListener("touchstart", (event) => {
  if (event.touches.length === 2 && shown?.kind === "pdf") {
    pinch = { distance: fingerDistance(event.touches), scale: shown.scale, ratio: 1 };
  }
});
body.addEventListener("touchmove", (event) => {
  if (!pinch || event.touches.length !== 2) return;
  event.preventDefault();
  pinch.ratio = fingerDistance(event.touches) / pinch.distance;
  const sheet = body.querySelector(".pdf-page");
  if (sheet) sheet.style.transform = `scale(${pinch.ratio})`; // a preview until the fingers lift
});
body.addEventListener("touchend", () => {
  if (!pinch) return;
  const target = pinch.scale * pinch.ratio;
  pinch = null;
  zoomTo(target);
});

function fingerDistance([a, b]) {
  return Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY) || 1;
}

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
  shown.pageWidth = page.getViewport({ scale: 1 }).width;
  shown.scale ??= Math.min(Math.max(fitScale(), MIN_READABLE_SCALE), 2);
  const viewport = page.getViewport({ scale: shown.scale });
  zoomLevel.textContent = `${Math.round(shown.scale * 100)}%`;
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
  sheet.querySelector(".hit")?.scrollIntoView({ block: "center", inline: "center" });
  return hits;
}

/** The scale at which a PDF page fills the viewer's width. */
function fitScale() {
  const width = Math.max(body.clientWidth - 24, 200); // inside the body's padding
  return width / (shown?.pageWidth || 612);
}

async function zoomTo(scale) {
  if (shown?.kind !== "pdf" || !Number.isFinite(scale)) return;
  shown.scale = Math.min(Math.max(scale, MIN_SCALE), MAX_SCALE);
  await renderPdfPage(shown.page);
}

async function turnPage(step) {
  if (!shown) return;
  if (shown.kind === "text") {
    const next = shown.index + step;
    if (next >= 0 && next < shown.pages.length) showTextPage(next);
    return;
  }
  const next = shown.page + step;
  if (next >= 1 && next <= shown.pdf.numPages) await renderPdfPage(next);
}

async function showPdf(source) {
  let pdf = openPdfs.get(source.document_id);
  if (!pdf) {
    const response = await request(
      scoped(`documents/${encodeURIComponent(source.document_id)}/file`),
    );
    const data = new Uint8Array(await response.arrayBuffer());
    pdf = await pdfjs.getDocument({ ...PDF_OPTIONS, data }).promise;
    openPdfs.set(source.document_id, pdf);
  }
  nav.hidden = false;
  zoomBar.hidden = false;
  shown = {
    kind: "pdf",
    pdf,
    page: source.page || 1,
    quote: source.quote || source.text,
    filename: source.filename,
    scale: null,
  };
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

function escaped(word) {
  return word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Where `passage` lies in `text`, word by word (spacing and line breaks do not matter):
 * [start, end], or null. A long passage that differs in the middle is found by its first
 * and last words. */
function findPassage(text, passage) {
  const words = passage.split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  const whole = words.length <= 80 && new RegExp(words.map(escaped).join("\\s+")).exec(text);
  if (whole) return [whole.index, whole.index + whole[0].length];
  const span = Math.min(8, words.length);
  const head = new RegExp(words.slice(0, span).map(escaped).join("\\s+")).exec(text);
  if (!head) return null;
  const tailPattern = new RegExp(words.slice(-span).map(escaped).join("\\s+"), "g");
  tailPattern.lastIndex = head.index;
  const tail = tailPattern.exec(text);
  const end = tail ? tail.index + tail[0].length : head.index + head[0].length;
  return [head.index, end];
}

/** The page's text with `passage` wrapped in <mark>; null when it is not on the page. */
function markedText(text, passage) {
  const found = findPassage(text, passage);
  if (!found) return null;
  const pre = document.createElement("pre");
  pre.className = "page-text";
  const mark = document.createElement("mark");
  mark.textContent = text.slice(found[0], found[1]);
  pre.append(text.slice(0, found[0]), mark, text.slice(found[1]));
  return pre;
}

function showTextPage(index) {
  shown.index = index;
  const page = shown.pages[index];
  // The quote where it is on this page; else the cited chunk; else the page as it is.
  const pre =
    (shown.quote && markedText(page.text, shown.quote)) || markedText(page.text, shown.chunk);
  if (pre) {
    body.replaceChildren(pre);
  } else {
    const plain = document.createElement("pre");
    plain.className = "page-text";
    plain.textContent = page.text;
    body.replaceChildren(plain);
  }
  nav.hidden = shown.pages.length < 2;
  indicator.textContent = t("pageOf", { page: page.number, pages: shown.pages.length });
  indicator.dataset.page = page.number;
  if (shown.pages.length > 1) title.textContent = `${shown.filename} · ${t("page", { page: page.number })}`;
  pre?.querySelector("mark").scrollIntoView({ block: "center" });
  return Boolean(pre);
}

async function showText(source) {
  const content = await getJSON(scoped(`documents/${encodeURIComponent(source.document_id)}/content`));
  const pages = content.pages;
  shown = {
    kind: "text",
    pages,
    index: 0,
    quote: source.quote,
    chunk: source.text,
    filename: source.filename,
  };
  const cited = Math.max(0, pages.findIndex((p) => p.number === source.page));
  // A chunk can run over several pages: the quote is on one of them.
  const last = pages.findIndex((p) => p.number === (source.page_end || source.page));
  for (let index = cited; index <= Math.max(cited, last); index++) {
    if (showTextPage(index)) {
      note.hidden = true;
      return;
    }
  }
  showTextPage(cited);
  body.prepend(quoteBlock(source.quote || source.text));
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
  zoomBar.hidden = true;
  shown = null;
  dialog.showModal();
  dialog.addEventListener("close", () => opener?.focus?.(), { once: true });
  try {
    const record = await getJSON(scoped(`documents/${encodeURIComponent(source.document_id)}`));
    if (record.media_type === "application/pdf") await showPdf(source);
    else await showText(source);
  } catch (error) {
    body.replaceChildren(document.createTextNode(errorText(error.code, error.message)));
  }
}
