// Starts the page: language, the API-key prompt, then the library, uploads and chat.

import { health, onUnauthorized, storedKey, storeKey } from "./api.js";
import { startChat } from "./chat.js";
import { startLibrary } from "./documents.js";
import { applyLanguage, language, setLanguage, t } from "./i18n.js";
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

async function start() {
  const select = document.getElementById("language");
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));
  applyLanguage();
  onUnauthorized(askForKey);
  // The form works from the first moment: a question asked before the key prompt below gets
  // a 401, which asks for the key and retries.
  const library = startLibrary();
  startUploads({ onChange: () => library.refresh() });
  startChat({ library });

  try {
    const status = await health();
    if (status.auth && !storedKey()) await askForKey("missing");
  } catch {
    document.getElementById("announcer").textContent = t("networkError");
  }
  await library.refresh();
}

start();
