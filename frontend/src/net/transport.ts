// The browser's network, behind the interfaces the rest of net/ is written against. This is
// the only file that touches fetch, XMLHttpRequest, WebSocket and crypto, so everything else
// runs in unit tests on fakes; it stays small enough to read at a glance.

import type { Transport, TransportRequest, TransportResponse, UploadProgress } from "./api";
import { abortError } from "./clock";
import type { ConnectSocket } from "./socket";

/** fetch, with the session cookie even when the API is on another origin than the app. */
async function request(req: TransportRequest): Promise<TransportResponse> {
  const { method, url, headers, body, signal } = req;
  const response = await fetch(url, { method, headers, body, signal, credentials: "include" });
  return {
    status: response.status,
    header: (name) => response.headers.get(name),
    text: () => response.text(),
  };
}

/** XMLHttpRequest, since fetch reports no upload progress. */
function upload(req: TransportRequest & { body: Blob }, onProgress: UploadProgress) {
  return new Promise<TransportResponse>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url);
    xhr.withCredentials = true;
    for (const [name, value] of Object.entries(req.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) =>
      onProgress(e.loaded, e.lengthComputable ? e.total : req.body.size);
    xhr.onload = () =>
      resolve({
        status: xhr.status,
        header: (name) => xhr.getResponseHeader(name),
        text: () => Promise.resolve(xhr.responseText),
      });
    xhr.onerror = () => reject(new TypeError("Network error during upload"));
    xhr.onabort = () => reject(abortError());
    req.signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(req.body);
  });
}

export const browserTransport: Transport = { request, upload };

export const connectBrowserSocket: ConnectSocket = (url, events) => {
  const socket = new WebSocket(url);
  socket.onopen = () => events.open();
  socket.onmessage = (e: MessageEvent) => {
    if (typeof e.data === "string") events.message(e.data);
  };
  socket.onclose = (e) => events.close(e.code);
  return {
    send: (text) => socket.send(text),
    close: (code = 1000) => socket.close(code),
  };
};

/**
 * A random (v4) UUID. `crypto.randomUUID` exists only on https and localhost; a board
 * opened over plain http on the school network still needs ids, and getRandomValues works
 * everywhere.
 */
export function browserUuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
