// Starts the page: language, the API-key prompt, the knowledge base, then the library,
// uploads and chat; on a narrow screen, the Ask and Library tabs.

import { currentBase, health, onUnauthorized, storedKey, storeKey } from "./api.js";
import { startChat } from "./chat.js";
import { startLibrary } from "./documents.js";
import { startFailures } from "./failures.js";
import { applyLanguage, language, setLanguage, t } from "./i18n.js";
import { startKnowledgeBases } from "./kb.js";
import { startUploads } from "./upload.js";

const keyDialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
let pendingKey = null;

/** Shows the key prompt; resolves once the user gave a key. Several callers that hit a 401
 * at the same time share one prompt. */
function askForKey(reason) {
  if (pendingKey) return pendingKey;
  if (reason === "wrong") storeKey(null);
  keyError.hidden = reason !== "wrong";
  keyInput.value = "";
  pendingKey = new Promise((resolve) => {
    keyDialog.addEventListener(
      "close",
      () => {
        storeKey(keyInput.value.trim());
        pendingKey = null;
        resolve();
      },
      { once: true },
    );
  });
  keyDialog.showModal();
  keyInput.focus();
  return pendingKey;
}

// Escape must not leave the page without a key: the prompt stays until one is given.
keyDialog.addEventListener("cancel", (event) => event.preventDefault());

/** Narrow screens show one of the chat and the library at a time; the chat comes first. */
function startTabs() {
  const layout = document.getElementById("layout");
  const tabs = [...document.querySelectorAll(".tabs [role=tab]")];
  const show = (name) => {
    layout.dataset.tab = name;
    for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  };
  for (const tab of tabs) tab.addEventListener("click", () => show(tab.dataset.tab));
  return { show };
}

async function start() {
  const select = document.getElementById("language");
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));
  applyLanguage();
  onUnauthorized(askForKey);
  startTabs();
  // The form works from the first moment: a question asked before the key prompt below gets
  // a 401, which asks for the key and retries.
  const failures = startFailures();
  const library = startLibrary({ failures });
  const uploads = startUploads({ onChange: () => library.refresh(), failures });
  const chat = startChat({ library });
  library.onDeleted((id) => {
    uploads.forget(id);
    failures.forget(id);
  });

  let status = null;
  try {
    status = await health();
    chat.showMode(status.mode);
    if (status.auth && !storedKey()) await askForKey("missing");
  } catch {
    document.getElementById("announcer").textContent = t("networkError");
  }
  const bases = await startKnowledgeBases({
    onSwitch: async () => {
      failures.reload();
      uploads.refresh();
      chat.reload();
      await library.reset();
    },
  });
  if (bases.available) {
    // Until now the page showed the default base's conversation and failures.
    if (currentBase() !== "default") {
      failures.reload();
      chat.reload();
    }
    let counted = null; // the switcher's document counts follow the library's
    library.onChange((documents) => {
      if (counted !== null && counted !== documents.length) bases.refresh();
      counted = documents.length;
    });
  }
  await library.refresh();
}

start();
