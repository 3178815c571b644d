import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay, type BackoffPolicy } from "./backoff";

const policy: BackoffPolicy = { initialMs: 250, maxMs: 8000, jitter: 1 };

describe("backoff", () => {
  it("doubles its ceiling with each attempt and never exceeds the cap", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffDelay(policy, n, () => 0));
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it("stays within zero and the ceiling with full jitter", () => {
    for (const random of [0, 0.3, 0.999]) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const delay = backoffDelay(policy, attempt, () => random);
        const ceiling = Math.min(8000, 250 * 2 ** attempt);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("keeps the fixed part of the ceiling with partial jitter", () => {
    const half = { ...policy, jitter: 0.5 };
    expect(backoffDelay(half, 2, () => 0.999)).toBeGreaterThan(500);
    expect(backoffDelay(half, 2, () => 0)).toBe(1000);
  });

  it("starts from the first wait again after a reset", () => {
    const backoff = new Backoff(policy, () => 0);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([250, 500, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(250);
  });
});
