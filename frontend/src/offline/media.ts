// Keeps every medium of the open lesson on the device, so the next slide shows even when the
// network drops mid-lesson: fetched once into the same cache the service worker answers
// from. Best-effort: a medium that cannot be fetched now is fetched when it is shown.

import { MEDIA_CACHE, mediaKey } from "./keys";

/** Starts the service worker that serves cached media and the app offline. */
export function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { type: "module" }).catch(() => {
    // Not a secure context, or blocked: media still come from the HTTP cache.
  });
}

/** Fetches into the cache each of `urls` (absolute media URLs) that is not there yet. */
export async function prefetchMedia(urls: readonly string[]): Promise<void> {
  if (!("caches" in window)) {
    await Promise.allSettled(urls.map((url) => fetch(url)));
    return;
  }
  const cache = await caches.open(MEDIA_CACHE);
  await Promise.allSettled(
    urls.map(async (url) => {
      const key = mediaKey(new URL(url));
      if (key === null || (await cache.match(key))) return;
      const response = await fetch(url, { mode: "cors", credentials: "omit" });
      if (response.status === 200) await cache.put(key, response);
    }),
  );
}
