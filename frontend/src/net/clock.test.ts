import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isAbortError, sleep, systemClock } from "./clock";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("sleep", () => {
  it("resolves only once its time has passed", async () => {
    let done = false;
    void sleep(systemClock, 1000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it("rejects with an AbortError as soon as it is aborted", async () => {
    const controller = new AbortController();
    const waiting = sleep(systemClock, 60_000, controller.signal);
    controller.abort();
    const error: unknown = await waiting.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
