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
    supported: "PDF, Word (.docx), HTML, CSV, text, Markdown and images (PNG, JPEG, TIFF, WebP)",
    readingAnswerable: "reading, answerable so far: pages 1–{last}",
    readingAnswerableText: "reading, {n} passages answerable so far",
    readingNone: "reading {pct}%",
    failedHeading: "Failed uploads",
    dismiss: "Dismiss",
    dismissFile: "Dismiss {name}",
    dismissAll: "Dismiss all",
    failedNote: "These files were not added to the library.",
    stillReadingPages: "{name} is still being read: only pages 1–{last} were searched.",
    stillReadingText: "{name} is still being read: only its first {n} passages were searched.",
    extractiveNote:
      "Answers are quotes from your documents; connect a chat model for written answers.",
    extractiveHow: "How to connect one",
    extractiveSteps:
      "Set DOCRAG_LLM__BASE_URL (any OpenAI-compatible server: Ollama, vLLM, llama.cpp, DeepSeek, Qwen…) and DOCRAG_LLM__MODEL, and DOCRAG_LLM__API_KEY if it needs one, then restart docrag. The README's section “Chat model” has examples.",
    tabAsk: "Ask",
    tabLibrary: "Library",
    tabsLabel: "Sections",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    zoomFit: "Fit width",
    knowledgeBase: "Knowledge base",
    newKnowledgeBase: "New knowledge base",
    newKnowledgeBaseTitle: "New knowledge base",
    knowledgeBaseName: "Name",
    knowledgeBaseNameHint: "lower-case letters, digits and “-”, up to 48",
    create: "Create",
    documentsCount: "{name} ({n})",
    readOnly: "You can read this knowledge base; adding or deleting documents needs a key with write access.",
    syncStatus: "Synced from {folder}{watch}: {state}",
    syncFiles: "{n} files",
    syncWatching: " (watching)",
    syncFailed: "{n} failed",
    syncLast: "last pass {at}",
    syncState_idle: "up to date",
    syncState_syncing: "syncing",
    syncState_failed: "failed",
    interrupted: "This answer was interrupted.",
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
    supported: "PDF、Word（.docx）、HTML、CSV、纯文本、Markdown 和图片（PNG、JPEG、TIFF、WebP）",
    readingAnswerable: "读取中，已可提问：第 1–{last} 页",
    readingAnswerableText: "读取中，已有 {n} 个片段可提问",
    readingNone: "读取中 {pct}%",
    failedHeading: "上传失败",
    dismiss: "移除",
    dismissFile: "移除 {name}",
    dismissAll: "全部移除",
    failedNote: "这些文件没有加入文档库。",
    stillReadingPages: "{name} 仍在读取中：只检索了第 1–{last} 页。",
    stillReadingText: "{name} 仍在读取中：只检索了前 {n} 个片段。",
    extractiveNote: "回答是从你的文档中摘录的原文；连接一个对话模型即可得到组织好的回答。",
    extractiveHow: "如何连接",
    extractiveSteps:
      "设置 DOCRAG_LLM__BASE_URL（任何兼容 OpenAI 的服务：Ollama、vLLM、llama.cpp、DeepSeek、通义千问……）和 DOCRAG_LLM__MODEL，需要时再设置 DOCRAG_LLM__API_KEY，然后重启 docrag。README 的 “Chat model” 一节有示例。",
    tabAsk: "提问",
    tabLibrary: "文档库",
    tabsLabel: "页面分区",
    zoomIn: "放大",
    zoomOut: "缩小",
    zoomFit: "适合宽度",
    knowledgeBase: "知识库",
    newKnowledgeBase: "新建知识库",
    newKnowledgeBaseTitle: "新建知识库",
    knowledgeBaseName: "名称",
    knowledgeBaseNameHint: "小写字母、数字和 “-”，最多 48 个字符",
    create: "创建",
    documentsCount: "{name}（{n}）",
    readOnly: "你可以查阅这个知识库；添加或删除文档需要有写权限的密钥。",
    syncStatus: "同步自 {folder}{watch}：{state}",
    syncFiles: "{n} 个文件",
    syncWatching: "（监视中）",
    syncFailed: "{n} 个失败",
    syncLast: "上次同步 {at}",
    syncState_idle: "已是最新",
    syncState_syncing: "同步中",
    syncState_failed: "失败",
    interrupted: "这个回答被中断了。",
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

// Server errors by their stable code: the page shows these words, in the chosen language,
// with the server's own message beside them (it names the file and the fix). English uses
// the server's message alone.
const ERRORS = {
  zh: {
    unsupported_file_type: "不支持这种文件类型。",
    encrypted_document: "文件已加密，请先去掉密码再上传。",
    corrupt_document: "文件已损坏，无法读取。",
    no_text_layer: "文件里没有可读取的文字（可能是扫描件，需要开启 OCR）。",
    empty_document: "文件里没有可以建立索引的文字。",
    too_many_pages: "文件页数超过了上限。",
    file_too_large: "文件太大了。",
    document_not_found: "找不到这个文档，它可能已被删除。",
    job_not_found: "找不到这个任务。",
    knowledge_base_not_found: "找不到这个知识库。",
    knowledge_base_exists: "已经有同名的知识库。",
    invalid_request: "请求有误。",
    bad_request: "请求有误。",
    forbidden: "你的密钥没有这个权限。",
    unauthorized: "需要有效的 API 密钥。",
    chat_model_unavailable: "无法连接对话模型。",
    chat_model_timeout: "对话模型响应超时。",
    chat_model_rate_limited: "对话模型请求过于频繁，请稍后再试。",
    chat_model_error: "对话模型出错了。",
    internal_error: "服务器内部错误。",
    interrupted: "处理被中断了。",
    ingest_failed: "文件未能加入文档库。",
    network: "无法连接 docrag，服务器是否在运行？",
  },
};

/** A server error in the chosen language: the words for its code, if the page knows them,
 * then the server's message (which names the file and the fix). */
export function errorText(code, message) {
  const known = ERRORS[current]?.[code];
  if (!known) return message || t("networkError");
  return message ? `${known}（${message}）` : known;
}

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
