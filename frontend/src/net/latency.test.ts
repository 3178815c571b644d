import { describe, expect, it } from "vitest";
import { LatencyWindow } from "./latency";

describe("LatencyWindow", () => {
  it("knows nothing until it has a few samples", () => {
    const window = new LatencyWindow();
    window.add(100);
    window.add(200);
    expect(window.percentile(0.9)).toBeNull();
  });

  it("gives the 90th percentile of the recent samples", () => {
    const window = new LatencyWindow();
    for (let ms = 10; ms <= 100; ms += 10) window.add(ms);
    expect(window.percentile(0.9)).toBe(90);
    expect(window.percentile(0.5)).toBe(50);
  });

  it("forgets the oldest samples", () => {
    const window = new LatencyWindow(3);
    for (const ms of [5000, 5000, 5000, 10, 20, 30]) window.add(ms);
    expect(window.percentile(1)).toBe(30);
  });
});
