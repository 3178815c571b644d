import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "./clock";
import type { CommandHandle } from "./commands";
import { Hosts } from "./hosts";
import type { BoardState, HelloFrame, ServerFrame } from "./protocol";
import { BoardSocket, socketUrl, type BoardSocketOptions, type SocketStatus } from "./socket";
import { counterIds, FakeSockets, randomSequence, type FakeConnection } from "./testing";

const A = "https://a.example";
const B = "https://b.example";
const C = "http://c.example";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const settle = () => vi.advanceTimersByTimeAsync(0);
const state: BoardState = { lesson_id: "l", slide: 0, blank: false, timer_ends_at: null };
const hello: HelloFrame = { type: "hello", role: "controller", access_token: "t", pairing_id: "p" };

function setup(options: Partial<BoardSocketOptions> = {}, urls = [A, B, C]) {
  const random = randomSequence(0);
  const hosts = new Hosts(urls, { clock: systemClock, random });
  const sockets = new FakeSockets();
  const frames: ServerFrame[] = [];
  const statuses: SocketStatus[] = [];
  const refresh = vi.fn(() => Promise.resolve());
  const socket = new BoardSocket({
    hosts,
    connect: sockets.connect,
    clock: systemClock,
    random,
    uuid: counterIds(),
    hello: { hello: () => Promise.resolve(hello), refresh },
    onFrame: (frame) => frames.push(frame),
    onStatus: (status) => statuses.push(status),
    ...options,
  });
  socket.start();
  return { hosts, sockets, socket, frames, statuses, refresh };
}

function welcome(offset: number, events: number[] = []) {
  return {
    type: "welcome",
    node: "a",
    board_id: "b",
    offset,
    state,
    events: events.map(eventAt),
    reset: false,
  };
}

function eventAt(offset: number) {
  return { offset, id: `c${offset}`, action: { kind: "next" }, by: "T", at: "t" };
}

/** Opens the latest connection and welcomes it at `offset`. */
async function welcomeAt(connection: FakeConnection, offset: number, events: number[] = []) {
  connection.open();
  await settle();
  connection.receive(welcome(offset, events));
}

describe("connecting", () => {
  it("connects to the host's /ws and says hello without an offset the first time", async () => {
    const { sockets, statuses } = setup();
    expect(sockets.last().url).toBe("wss://a.example/ws");
    await welcomeAt(sockets.last(), 4);
    expect(sockets.last().frames()[0]).toEqual(hello);
    expect(statuses).toEqual(["online"]);
    expect(socketUrl(C)).toBe("ws://c.example/ws");
  });

  it("resumes with the last applied offset after a reconnect", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 4);
    sockets.last().receive({ type: "event", ...eventAt(5) });
    sockets.last().end(1006);
    await vi.advanceTimersByTimeAsync(8_000);
    sockets.last().open();
    await settle();
    expect(sockets.connections).toHaveLength(2);
    expect(sockets.last().frames()[0]).toEqual({ ...hello, offset: 5 });
    expect(socket.offset).toBe(5);
  });

  it("hands over the events missed while away, in order", async () => {
    const { sockets, frames } = setup();
    await welcomeAt(sockets.last(), 4);
    sockets.last().end(1006);
    await vi.advanceTimersByTimeAsync(8_000);
    await welcomeAt(sockets.last(), 6, [5, 6]);
    const resumed = frames.at(-1);
    expect(resumed).toMatchObject({ type: "welcome", reset: false });
    expect(resumed?.type === "welcome" && resumed.events.map((e) => e.offset)).toEqual([5, 6]);
  });
});

describe("events", () => {
  it("drops duplicates and hands on each event once", async () => {
    const { sockets, frames } = setup();
    await welcomeAt(sockets.last(), 4);
    for (const offset of [5, 5, 3, 6])
      sockets.last().receive({ type: "event", ...eventAt(offset) });
    const offsets = frames
      .filter((f) => f.type === "event")
      .map((f) => f.type === "event" && f.offset);
    expect(offsets).toEqual([5, 6]);
  });

  it("resyncs on a gap instead of applying out of order", async () => {
    const { sockets, frames, socket } = setup();
    await welcomeAt(sockets.last(), 4);
    const first = sockets.last();
    first.receive({ type: "event", ...eventAt(7) });
    expect(frames.some((f) => f.type === "event")).toBe(false);
    expect(first.closedByClient).not.toBeNull();
    await vi.advanceTimersByTimeAsync(250);
    expect(sockets.connections).toHaveLength(2);
    sockets.last().open();
    await settle();
    expect(sockets.last().frames()[0]).toMatchObject({ offset: 4 });
    expect(socket.status).toBe("online");
  });
});

describe("commands", () => {
  it("queued while offline are sent with their ids once welcomed", async () => {
    const { sockets, socket } = setup();
    const next = socket.command({ kind: "next" });
    const blank = socket.command({ kind: "blank", on: true });
    expect(next.status.state).toBe("queued");
    await welcomeAt(sockets.last(), 0);
    const sent = sockets.last().framesOfType("command");
    expect(sent.map((f) => f.id)).toEqual([next.id, blank.id]);
    sockets.last().receive({ type: "ack", id: next.id, offset: 1 });
    expect(await next.settled).toEqual({ state: "acked", offset: 1 });
  });

  it("expire if not delivered within the window and are never sent afterwards", async () => {
    const seen: string[] = [];
    const onCommand = (command: CommandHandle) => seen.push(command.status.state);
    const { sockets, socket } = setup({ commandTimeoutMs: 5_000, onCommand });
    const next = socket.command({ kind: "next" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await next.settled).toEqual({ state: "expired" });
    expect(seen).toEqual(["queued", "expired"]);
    await welcomeAt(sockets.last(), 0);
    expect(sockets.last().framesOfType("command")).toEqual([]);
  });

  it("sent but unacknowledged are sent again with the same id after a reconnect", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 0);
    const next = socket.command({ kind: "next" });
    sockets.last().end(1012);
    await settle();
    await welcomeAt(sockets.last(), 0);
    expect(
      sockets
        .last()
        .framesOfType("command")
        .map((f) => f.id),
    ).toEqual([next.id]);
  });

  it("refused for good report the node's reason", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 0);
    const goto = socket.command({ kind: "goto", slide: 99 });
    sockets.last().receive({
      type: "error",
      id: goto.id,
      error: "slide_out_of_range",
      message: "No slide 99.",
    });
    expect(await goto.settled).toMatchObject({ state: "refused", code: "slide_out_of_range" });
  });
});

describe("reconnecting", () => {
  it("waits within growing, capped bounds between failed attempts and rotates hosts", async () => {
    const { sockets } = setup({}, [A, B, C]);
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      times.push(Date.now());
      sockets.last().end(1006);
      const before = sockets.connections.length;
      while (sockets.connections.length === before) await vi.advanceTimersByTimeAsync(1);
    }
    const waits = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    const ceilings = [250, 500, 1000, 2000, 4000, 8000, 8000];
    waits.forEach((wait, i) => expect(wait).toBeLessThanOrEqual(ceilings[i] ?? 0));
    expect(Math.max(...waits)).toBeGreaterThan(4000);
    const hosts = sockets.connections.slice(0, 3).map((c) => c.url);
    expect(new Set(hosts).size).toBe(3);
  });

  it("comes back almost at once after a connection that had been up for a while", async () => {
    const { sockets } = setup({}, [A]);
    sockets.last().end(1006);
    await vi.advanceTimersByTimeAsync(250);
    sockets.last().end(1006);
    await vi.advanceTimersByTimeAsync(500);
    await welcomeAt(sockets.last(), 0);
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(3_000);
      sockets.last().receive({ type: "pong" });
    }
    const before = sockets.connections.length;
    sockets.last().end(1006);
    await vi.advanceTimersByTimeAsync(250);
    expect(sockets.connections).toHaveLength(before + 1);
  });

  it("moves to another host at once when the node restarts (1012)", async () => {
    const { sockets } = setup({}, [A, B]);
    await welcomeAt(sockets.last(), 0);
    sockets.last().end(1012);
    await settle();
    expect(sockets.connections.map((c) => c.url)).toEqual([socketUrl(A), socketUrl(B)]);
  });

  it("stops for good when the pairing is revoked (4003)", async () => {
    const { sockets, socket, statuses } = setup();
    await welcomeAt(sockets.last(), 0);
    const next = socket.command({ kind: "next" });
    sockets.last().end(4003);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sockets.connections).toHaveLength(1);
    expect(statuses.at(-1)).toBe("revoked");
    expect((await next.settled).state).toBe("expired");
  });

  it("renews credentials after 4001 before trying again", async () => {
    const { sockets, refresh } = setup();
    sockets.last().open();
    await settle();
    sockets.last().end(4001);
    await settle();
    expect(refresh).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(sockets.connections).toHaveLength(2);
  });
});

describe("liveness", () => {
  it("pings every few seconds and stays online while pongs come back", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 0);
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(3_000);
      sockets.last().receive({ type: "pong" });
    }
    expect(sockets.last().framesOfType("ping")).toHaveLength(20);
    expect(socket.status).toBe("online");
    expect(sockets.connections).toHaveLength(1);
  });

  it("marks the socket offline within a few seconds of missed pongs, without a close", async () => {
    const { sockets, socket, statuses } = setup();
    await welcomeAt(sockets.last(), 0);
    await vi.advanceTimersByTimeAsync(6_999);
    expect(socket.status).toBe("online");
    await vi.advanceTimersByTimeAsync(1);
    expect(statuses).toEqual(["online", "offline"]);
    expect(sockets.connections[0]?.closedByClient).not.toBeNull();
    await vi.advanceTimersByTimeAsync(250);
    expect(sockets.last().url).not.toBe(sockets.connections[0]?.url);
  });

  it("gives up on a connection that is never welcomed", async () => {
    const { sockets, socket } = setup();
    sockets.last().open();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(socket.status).toBe("offline");
    expect(sockets.connections[0]?.closedByClient).not.toBeNull();
  });

  it("reports offline at once when the browser loses the network, and reconnects on return", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 0);
    socket.setNetworkOnline(false);
    expect(socket.status).toBe("offline");
    await vi.advanceTimersByTimeAsync(100);
    const attempts = sockets.connections.length;
    socket.setNetworkOnline(true);
    await settle();
    expect(sockets.connections).toHaveLength(attempts + 1);
  });
});

describe("best-effort frames", () => {
  it("sends the pointer at most about 30 times a second, latest position last", async () => {
    const { sockets, socket } = setup();
    await welcomeAt(sockets.last(), 0);
    for (let i = 1; i <= 10; i++) socket.pointer(i / 10, 0.5);
    await vi.advanceTimersByTimeAsync(33);
    socket.hidePointer();
    await vi.advanceTimersByTimeAsync(33);
    expect(sockets.last().framesOfType("pointer")).toEqual([
      { type: "pointer", x: 0.1, y: 0.5 },
      { type: "pointer", x: 1, y: 0.5 },
      { type: "pointer", hidden: true },
    ]);
  });

  it("drops pointer moves while offline", () => {
    const { sockets, socket } = setup();
    socket.pointer(0.5, 0.5);
    expect(sockets.last().sent).toEqual([]);
  });

  it("asks for a pairing code once welcomed when asked while offline", async () => {
    const { sockets, socket } = setup();
    socket.requestCode();
    await welcomeAt(sockets.last(), 0);
    expect(sockets.last().framesOfType("request_code")).toHaveLength(1);
    socket.shown(0);
    expect(sockets.last().framesOfType("shown")).toEqual([{ type: "shown", offset: 0 }]);
  });
});
