// The page's words in English and Chinese. The browser's language picks one; the switch in the
// header overrides it for this browser (localStorage: a preference, not a secret).

const WORDS = {
  en: {
    title: "docrag",
    tagline: "Answers from your own documents, every claim cited to its page.",
    language: "Language",
    apiDocs: "API docs",
    uploadHeading: "Add documents",
    dropHere: "Drop files here, or",
    pickFiles: "choose files",
    supported: "PDF, Word (.docx), HTML, CSV, text and Markdown",
    uploading: "uploading {pct}%",
    queued: "waiting to start",
    parsing: "reading {pct}%",
    ocr: "reading scanned pages {pct}%",
    embedding: "indexing {pct}%",
    ready: "ready",
    pending: "being written",
    failed: "failed",
    alreadyStored: "ready (already stored)",
    documentsHeading: "Your documents",
    noDocuments: "No documents yet. Add some above.",
    colName: "Name",
    colPages: "Pages",
    colChunks: "Chunks",
    colStatus: "Status",
    colSize: "Size",
    colActions: "Actions",
    delete: "Delete",
    deleteFile: "Delete {name}",
    confirmDeleteTitle: "Delete this document?",
    confirmDelete:
      "“{name}” will be removed with its index entries and stored file. This cannot be undone.",
    cancel: "Cancel",
    deleted: "Deleted {name}.",
    chatHeading: "Ask",
    questionLabel: "Your question",
    questionPlaceholder: "Ask anything about your documents…",
    ask: "Ask",
    newConversation: "New conversation",
    filterLegend: "Only these documents",
    filterNone: "all documents",
    filterSome: "{count} selected",
    sources: "Sources",
    thinking: "Searching your documents…",
    notFound: "Not in your documents",
    you: "You",
    answer: "Answer",
    page: "p. {page}",
    openSource: "Open source {n}: {name}, page {page}",
    openSourceNoPage: "Open source {n}: {name}",
    viewerTitle: "Source",
    close: "Close",
    previousPage: "Previous page",
    nextPage: "Next page",
    pageOf: "Page {page} of {pages}",
    loading: "Loading…",
    quoteNotFound: "The quoted passage could not be located on this page; it is shown below.",
    keyTitle: "API key required",
    keyExplain:
      "This docrag asks for an API key. It is kept in this browser tab only and forgotten when the tab closes.",
    keyLabel: "API key",
    keyWrong: "That key was not accepted. Check it and try again.",
    keySubmit: "Continue",
    networkError: "docrag cannot be reached. Is the server running?",
    sizeB: "{n} B",
    sizeKB: "{n} KB",
    sizeMB: "{n} MB",
  },
  zh: {
    title: "docrag",
    tagline: "根据你自己的文档回答问题，每一处都注明出处页码。",
    language: "语言",
    apiDocs: "API 文档",
    uploadHeading: "添加文档",
    dropHere: "把文件拖到这里，或",
    pickFiles: "选择文件",
    supported: "PDF、Word（.docx）、HTML、CSV、纯文本和 Markdown",
    uploading: "上传中 {pct}%",
    queued: "等待开始",
    parsing: "读取中 {pct}%",
    ocr: "识别扫描页 {pct}%",
    embedding: "建立索引 {pct}%",
    ready: "就绪",
    pending: "写入中",
    failed: "失败",
    alreadyStored: "就绪（已存在）",
    documentsHeading: "你的文档",
    noDocuments: "还没有文档，请先在上方添加。",
    colName: "名称",
    colPages: "页数",
    colChunks: "片段",
    colStatus: "状态",
    colSize: "大小",
    colActions: "操作",
    delete: "删除",
    deleteFile: "删除 {name}",
    confirmDeleteTitle: "删除这个文档？",
    confirmDelete: "“{name}”及其索引和存储的文件将被删除，且无法恢复。",
    cancel: "取消",
    deleted: "已删除 {name}。",
    chatHeading: "提问",
    questionLabel: "你的问题",
    questionPlaceholder: "就你的文档提任何问题……",
    ask: "提问",
    newConversation: "新对话",
    filterLegend: "只在这些文档中查找",
    filterNone: "全部文档",
    filterSome: "已选 {count} 个",
    sources: "来源",
    thinking: "正在检索你的文档……",
    notFound: "你的文档中没有相关内容",
    you: "你",
    answer: "回答",
    page: "第 {page} 页",
    openSource: "打开来源 {n}：{name}，第 {page} 页",
    openSourceNoPage: "打开来源 {n}：{name}",
    viewerTitle: "来源",
    close: "关闭",
    previousPage: "上一页",
    nextPage: "下一页",
    pageOf: "第 {page} 页，共 {pages} 页",
    loading: "加载中……",
    quoteNotFound: "未能在本页定位引用的段落，原文显示在下方。",
    keyTitle: "需要 API 密钥",
    keyExplain: "此 docrag 需要 API 密钥。密钥只保存在当前浏览器标签页中，关闭标签页即失效。",
    keyLabel: "API 密钥",
    keyWrong: "密钥无效，请检查后重试。",
    keySubmit: "继续",
    networkError: "无法连接 docrag，服务器是否在运行？",
    sizeB: "{n} 字节",
    sizeKB: "{n} KB",
    sizeMB: "{n} MB",
  },
};

const STORAGE_KEY = "docrag.language";
const listeners = [];

function preferred() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && saved in WORDS) return saved;
  const browser = (navigator.languages || [navigator.language || "en"]).find(Boolean) || "en";
  return browser.toLowerCase().startsWith("zh") ? "zh" : "en";
}

let current = preferred();

export function language() {
  return current;
}

export function t(key, values = {}) {
  const text = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Fills every element marked with data-i18n (text), data-i18n-placeholder and
 * data-i18n-label (aria-label), then tells the parts that render text themselves. */
export function applyLanguage(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  for (const listener of listeners) listener();
}

export function setLanguage(code) {
  if (!(code in WORDS)) return;
  current = code;
  localStorage.setItem(STORAGE_KEY, code);
  applyLanguage();
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

export function formatSize(bytes) {
  if (bytes < 1024) return t("sizeB", { n: bytes });
  if (bytes < 1024 * 1024) return t("sizeKB", { n: (bytes / 1024).toFixed(0) });
  return t("sizeMB", { n: (bytes / 1024 / 1024).toFixed(1) });
}
