import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "./clock";
import { Hosts, loadHosts, normalizeHost, parseConfig, type HostsOptions } from "./hosts";
import { randomSequence } from "./testing";

const A = "https://a.example";
const B = "https://b.example";
const C = "https://c.example";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function options(random = randomSequence(0)): HostsOptions {
  return { clock: systemClock, random };
}

describe("host choice", () => {
  it("starts on a random host so that a school's clients spread over the nodes", () => {
    expect(new Hosts([A, B, C], options(randomSequence(0))).current).toBe(A);
    expect(new Hosts([A, B, C], options(randomSequence(0.5))).current).toBe(B);
    expect(new Hosts([A, B, C], options(randomSequence(0.99))).current).toBe(C);
  });

  it("sticks to the host that answered", () => {
    const hosts = new Hosts([A, B, C], options());
    hosts.succeeded(C, 40);
    for (let i = 0; i < 5; i++) expect(hosts.order()[0]).toBe(C);
    expect(hosts.current).toBe(C);
  });

  it("offers every host exactly once per attempt, the current one first", () => {
    const hosts = new Hosts([A, B, C], options(randomSequence(0.5, 0.9, 0.1)));
    const order = hosts.order();
    expect(order[0]).toBe(B);
    expect([...order].sort()).toEqual([A, B, C]);
  });

  it("moves away from a host that failed and tries it last while it is down", () => {
    const hosts = new Hosts([A, B, C], options());
    hosts.failed(A);
    expect(hosts.current).not.toBe(A);
    expect(hosts.order()).toHaveLength(3);
    expect(hosts.order()[2]).toBe(A);
    expect(hosts.isDown(A)).toBe(true);
  });

  it("trusts a failed host again once its down time has passed", () => {
    const hosts = new Hosts([A, B], options(randomSequence(0)));
    hosts.failed(A);
    vi.advanceTimersByTime(5_000);
    expect(hosts.isDown(A)).toBe(false);
    expect(hosts.order()).toContain(A);
  });

  it("keeps a host down longer after each consecutive failure, up to a minute", () => {
    const hosts = new Hosts([A, B], options(randomSequence(0)));
    const downFor = () => hosts.nextRetryAt() - Date.now();
    const seen = [];
    for (let i = 0; i < 6; i++) {
      hosts.failed(A);
      seen.push(downFor());
    }
    expect(seen).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    hosts.succeeded(A);
    expect(hosts.isDown(A)).toBe(false);
  });

  it("orders hosts that are all down by when they come back", () => {
    const hosts = new Hosts([A, B, C], options(randomSequence(0)));
    hosts.failed(B);
    hosts.failed(B);
    hosts.failed(A);
    hosts.failed(C);
    expect(hosts.order()).toEqual([A, C, B]);
  });
});

describe("adaptive delays", () => {
  it("hedges after one and a half times a host's 90th percentile, within bounds", () => {
    const hosts = new Hosts([A, B], options());
    expect(hosts.hedgeDelay(A)).toBe(1_000);
    for (let i = 0; i < 10; i++) hosts.succeeded(A, 400);
    expect(hosts.hedgeDelay(A)).toBe(600);
    for (let i = 0; i < 10; i++) hosts.succeeded(B, 20);
    expect(hosts.hedgeDelay(B)).toBe(250);
    for (let i = 0; i < 20; i++) hosts.succeeded(A, 9_000);
    expect(hosts.hedgeDelay(A)).toBe(3_000);
  });

  it("gives a host that has been slow more time for its headers", () => {
    const hosts = new Hosts([A], options());
    expect(hosts.headerTimeout(A)).toBe(8_000);
    for (let i = 0; i < 10; i++) hosts.succeeded(A, 4_000);
    expect(hosts.headerTimeout(A)).toBe(12_000);
  });
});

describe("host list", () => {
  it("reads config.json and strips trailing slashes", () => {
    expect(parseConfig({ api: [`${A}/`, `${B}//`, A, "ftp://x", 3] })).toEqual([A, B]);
    expect(parseConfig({ api: [A, B], self: `${A}/` }, C)).toEqual([C, B]);
    expect(normalizeHost(" https://a.example/ ")).toBe(A);
    expect(normalizeHost("/api")).toBeNull();
  });

  it("falls back to the page's origin when config.json cannot be read", async () => {
    const hosts = await loadHosts(() => Promise.reject(new Error("404")), C, options());
    expect(hosts.list()).toEqual([C]);
  });

  it("falls back to the page's origin when config.json lists no host", async () => {
    const hosts = await loadHosts(() => Promise.resolve({ api: [] }), C, options());
    expect(hosts.list()).toEqual([C]);
  });

  it("takes the healthy nodes from the cluster's answer", async () => {
    const hosts = new Hosts([A], options());
    await hosts.refresh(() =>
      Promise.resolve([
        { node_id: "b", public_url: `${B}/`, healthy: true, last_seen: "t" },
        { node_id: "c", public_url: C, healthy: false, last_seen: "t" },
      ]),
    );
    expect(hosts.list()).toEqual([B, A]);
  });

  it("keeps its list when the cluster's answer is empty, malformed or missing", async () => {
    const hosts = new Hosts([A, B], options());
    await hosts.refresh(() => Promise.resolve([]));
    await hosts.refresh(() => Promise.resolve({ nodes: [C] }));
    await hosts.refresh(() => Promise.reject(new Error("offline")));
    expect(hosts.list()).toEqual([A, B]);
  });
});
