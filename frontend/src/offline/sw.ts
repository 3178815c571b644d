// The service worker: lets a board (or a teacher's phone) reload and keep showing its lesson
// while the network or the node that served the page is gone. Media are kept by their
// SHA-256 (their URLs differ per node and per day, their bytes never do) and answered from
// the cache first; the app's hashed assets likewise; the page itself and config.json come
// from the network when it answers within a moment, else from the cache.

/// <reference lib="webworker" />

import { APP_CACHE, MEDIA_CACHE, mediaKey } from "./keys";

declare const self: ServiceWorkerGlobalScope;

/** How long a page load waits for the network before the cached copy is used. */
const NETWORK_PATIENCE_MS = 3_000;

/** Every file of the app, written in at build time (see vite.config.ts). */
const PRECACHE: string[] = JSON.parse("__PRECACHE_MANIFEST__") as string[];

self.addEventListener("install", (event) => {
  // One by one: a file that cannot be fetched now is fetched when it is first needed.
  event.waitUntil(
    caches
      .open(APP_CACHE)
      .then((cache) => Promise.allSettled(PRECACHE.map((path) => cache.add(path))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(forgetOldAssets().then(() => self.clients.claim()));
});

/** Drops the assets of earlier versions of the app, kept from before an update. */
async function forgetOldAssets(): Promise<void> {
  const cache = await caches.open(APP_CACHE);
  const current = new Set(PRECACHE.map((path) => new URL(path, self.location.origin).href));
  for (const request of await cache.keys()) {
    if (new URL(request.url).pathname.startsWith("/assets/") && !current.has(request.url)) {
      await cache.delete(request);
    }
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  const media = mediaKey(url);
  if (media !== null) {
    event.respondWith(cacheFirst(MEDIA_CACHE, media, request));
    return;
  }
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    event.respondWith(cacheFirst(APP_CACHE, request.url, request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(new URL("/index.html", url).href, request));
  } else if (url.pathname === "/config.json") {
    event.respondWith(networkFirst(url.href, request));
  }
});

async function cacheFirst(cacheName: string, key: string, request: Request): Promise<Response> {
  const cache = await caches.open(cacheName);
  const cached = await cache.match(key);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.status === 200) await cache.put(key, response.clone());
  return response;
}

/** The network's answer, kept for later; the kept one when the network fails or dawdles. */
async function networkFirst(key: string, request: Request): Promise<Response> {
  const cache = await caches.open(APP_CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(key, response.clone());
    return response;
  });
  const patience = new Promise<null>((resolve) =>
    setTimeout(() => resolve(null), NETWORK_PATIENCE_MS),
  );
  try {
    const first = await Promise.race([fromNetwork, patience]);
    if (first) return first;
  } catch {
    // Refused or offline: the kept copy below.
  }
  const cached = await cache.match(key);
  return cached ?? fromNetwork;
}
