// The app's entry point: picks the language and the view from the address, and loads only
// that view's code (a board never downloads the controller or the editor).

import "./styles.css";

import { language, pickLanguage, setLanguage, t } from "./i18n";
import { registerServiceWorker } from "./offline/media";

setLanguage(pickLanguage(location.search, navigator.languages));
document.documentElement.lang = language();
// After the page has loaded: precaching the app must not slow its first paint.
addEventListener("load", registerServiceWorker, { once: true });

/** How long to wait before reloading when a view's code could not be fetched. */
const RELOAD_AFTER_MS = 10_000;

const root = document.getElementById("app");
const path = location.pathname.replace(/\/+$/, "") || "/";
const view =
  path === "/board"
    ? import("./board/main")
    : path === "/lessons"
      ? import("./editor/main")
      : import("./controller/main");

if (root) {
  view
    .then((loaded) => loaded.mount(root))
    .catch(() => {
      // Offline before the view's code was ever cached: say so calmly and try again.
      root.textContent = t("unreachable");
      setTimeout(() => location.reload(), RELOAD_AFTER_MS);
    });
}
