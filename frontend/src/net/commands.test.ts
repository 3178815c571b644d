import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "./clock";
import { CommandQueue } from "./commands";
import type { ClientFrame } from "./protocol";
import { counterIds } from "./testing";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup() {
  const link = { up: false, sent: [] as ClientFrame[] };
  const queue = new CommandQueue({
    clock: systemClock,
    uuid: counterIds(),
    send: (frame) => link.up && link.sent.push(frame) > 0,
    expireAfterMs: 5_000,
    retryAfterMs: 500,
  });
  const sentIds = () =>
    link.sent.map((frame) => (frame.type === "command" ? frame.id : frame.type));
  return { link, queue, sentIds };
}

describe("CommandQueue", () => {
  it("holds commands while offline and sends them in order with their ids once welcomed", () => {
    const { link, queue, sentIds } = setup();
    const first = queue.issue({ kind: "next" });
    const second = queue.issue({ kind: "blank", on: true });
    expect(first.status.state).toBe("queued");
    link.up = true;
    queue.flush();
    expect(sentIds()).toEqual([first.id, second.id]);
    expect(second.status.state).toBe("sent");
  });

  it("re-sends an unacknowledged command with the same id after a reconnect", () => {
    const { link, queue, sentIds } = setup();
    link.up = true;
    const command = queue.issue({ kind: "next" });
    queue.disconnected();
    expect(command.status.state).toBe("queued");
    queue.flush();
    expect(sentIds()).toEqual([command.id, command.id]);
  });

  it("finishes a command with the offset of its ack", async () => {
    const { link, queue } = setup();
    link.up = true;
    const command = queue.issue({ kind: "goto", slide: 3 });
    queue.ack({ type: "ack", id: command.id, offset: 12 });
    expect(await command.settled).toEqual({ state: "acked", offset: 12 });
  });

  it("expires a command not acknowledged in time and never sends it afterwards", async () => {
    const { link, queue, sentIds } = setup();
    const command = queue.issue({ kind: "next" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await command.settled).toEqual({ state: "expired" });
    link.up = true;
    queue.flush();
    expect(sentIds()).toEqual([]);
  });

  it("sends a command again later after an undecided error, and stops on a final one", () => {
    const { link, queue, sentIds } = setup();
    link.up = true;
    const command = queue.issue({ kind: "next" });
    queue.refused({ type: "error", id: command.id, error: "unavailable", message: "Busy." });
    vi.advanceTimersByTime(499);
    expect(sentIds()).toEqual([command.id]);
    vi.advanceTimersByTime(1);
    expect(sentIds()).toEqual([command.id, command.id]);
    queue.refused({ type: "error", id: command.id, error: "rate_limited", message: "Slow." });
    expect(command.status).toEqual({ state: "refused", code: "rate_limited", message: "Slow." });
    vi.advanceTimersByTime(10_000);
    expect(sentIds()).toHaveLength(2);
  });
});
