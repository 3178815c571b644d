import { afterEach, describe, expect, it, vi } from "vitest";
import { browserTransport, browserUuid, connectBrowserSocket } from "./transport";

afterEach(() => vi.unstubAllGlobals());

describe("browser transport", () => {
  it("sends the session cookie along with every request", async () => {
    const fetch = vi.fn(() => Promise.resolve(new Response("{}", { status: 200 })));
    vi.stubGlobal("fetch", fetch);
    const signal = new AbortController().signal;
    const response = await browserTransport.request({
      method: "GET",
      url: "https://a.example/api/me",
      headers: {},
      signal,
    });
    expect(response.status).toBe(200);
    expect(fetch).toHaveBeenCalledWith(
      "https://a.example/api/me",
      expect.objectContaining({ credentials: "include", signal }),
    );
  });

  it("passes the browser socket's messages and close code on", () => {
    const sockets: FakeWebSocket[] = [];
    class FakeWebSocket {
      onopen?: () => void;
      onmessage?: (e: { data: unknown }) => void;
      onclose?: (e: { code: number }) => void;
      constructor(readonly url: string) {
        sockets.push(this);
      }
      send() {}
      close() {}
    }
    vi.stubGlobal("WebSocket", FakeWebSocket);
    const events = { open: vi.fn(), message: vi.fn(), close: vi.fn() };
    connectBrowserSocket("wss://a.example/ws", events);
    const socket = sockets[0];
    socket?.onmessage?.({ data: '{"type":"pong"}' });
    socket?.onmessage?.({ data: new Blob() });
    socket?.onclose?.({ code: 4003 });
    expect(events.message).toHaveBeenCalledExactlyOnceWith('{"type":"pong"}');
    expect(events.close).toHaveBeenCalledWith(4003);
  });
});

describe("browserUuid", () => {
  it("makes version 4 UUIDs even where crypto.randomUUID is missing", () => {
    vi.stubGlobal("crypto", { getRandomValues: (a: Uint8Array) => a.fill(0xff) });
    expect(browserUuid()).toBe("ffffffff-ffff-4fff-bfff-ffffffffffff");
  });
});
