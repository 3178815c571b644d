// Names shared by the service worker and the pages that fill its caches.

export const MEDIA_CACHE = "boardcast-media-v1";
export const APP_CACHE = "boardcast-app-v1";

const MEDIA_PATH = /^\/media\/([0-9a-f]{64})$/;

/** The cache key of a media URL (by its SHA-256, on whatever node), or null for other URLs. */
export function mediaKey(url: URL): string | null {
  const match = MEDIA_PATH.exec(url.pathname);
  return match ? `/media-by-sha256/${match[1]}` : null;
}
