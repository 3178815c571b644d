// What every view starts with: the net layer on this page's config.json, and the browser's
// online/offline hints passed on to a socket.

import { startNet, type BoardSocket, type Net } from "./net";

export function startApp(): Promise<Net> {
  return startNet(`${import.meta.env.BASE_URL}config.json`, location.origin);
}

/** Tells `socket` when the browser says the network went away or came back. */
export function followNetwork(socket: BoardSocket): () => void {
  const online = () => socket.setNetworkOnline(true);
  const offline = () => socket.setNetworkOnline(false);
  addEventListener("online", online);
  addEventListener("offline", offline);
  if (!navigator.onLine) offline();
  return () => {
    removeEventListener("online", online);
    removeEventListener("offline", offline);
  };
}
