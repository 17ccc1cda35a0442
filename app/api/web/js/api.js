// The HTTP API, as the page uses it. The API key (when the server wants one) lives in
// sessionStorage only: it is gone when the tab closes and never written to disk by the page.

const KEY_STORAGE = "docrag.apiKey";
let askForKey = async () => {};
// The knowledge base the page works in; null on a server without knowledge bases, whose
// requests then carry no base at all.
let base = null;

export function useBase(name) {
  base = name;
}

export function currentBase() {
  return base;
}

/** `path` within the current knowledge base (the `knowledge_base` query parameter). */
export function scoped(path) {
  if (!base) return path;
  return `${path}${path.includes("?") ? "&" : "?"}knowledge_base=${encodeURIComponent(base)}`;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** What to do when the server answers 401: ask for a key, then the caller may retry. */
export function onUnauthorized(handler) {
  askForKey = handler;
}

function authHeaders() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  const error = body?.error ?? body?.errors?.[0];
  return new ApiError(
    response.status,
    error?.code ?? "http_error",
    error?.message ?? `${response.status} ${response.statusText}`,
  );
}

/** fetch() with the key; a 401 asks for a key once and retries; other errors throw ApiError
 * carrying the API's own message. */
export async function request(path, { method = "GET", json, body, retried = false } = {}) {
  const headers = authHeaders();
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body });
  if (response.status === 401 && !retried) {
    await askForKey(storedKey() ? "wrong" : "missing");
    return request(path, { method, json, body, retried: true });
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function getJSON(path) {
  return (await request(path)).json();
}

export async function health() {
  return (await fetch("health")).json();
}

/** The JSON error body of a failed upload or job: { code, message }. */
export function errorOf(body, status) {
  const error = body?.errors?.[0] ?? body?.error;
  return { code: error?.code ?? "http_error", message: error?.message ?? `${status}` };
}

/** Uploads one file as its own request (so each file has its own progress and error) and
 * queues it as a background job. Resolves with the API's body and status. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const send = (retried) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", scoped("documents?wait=false"));
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onerror = () => reject(new ApiError(0, "network", ""));
      xhr.onload = async () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status === 401 && !retried) {
          await askForKey(storedKey() ? "wrong" : "missing");
          send(true);
          return;
        }
        resolve({ status: xhr.status, body });
      };
      const form = new FormData();
      form.append("files", file, file.name);
      if (base) form.append("knowledge_base", base);
      xhr.send(form);
    };
    send(false);
  });
}

/** Reads a text/event-stream response, calling onEvent(name, data) for each event. */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
