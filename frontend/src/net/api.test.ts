import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api, readJson, type Authorization } from "./api";
import { isAbortError, systemClock } from "./clock";
import { ApiError, Unreachable } from "./errors";
import { Hosts } from "./hosts";
import { counterIds, FakeTransport, randomSequence } from "./testing";

const A = "https://a.example";
const B = "https://b.example";
const C = "https://c.example";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Lets promise callbacks run without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

function setup(urls = [A, B, C]) {
  const random = randomSequence(0);
  const hosts = new Hosts(urls, { clock: systemClock, random });
  const transport = new FakeTransport();
  const uuid = vi.fn(counterIds());
  const api = new Api({ hosts, transport, clock: systemClock, random, uuid });
  return { hosts, transport, api, uuid };
}

function outcome<T>(promise: Promise<T>): { value?: T; error?: unknown } {
  const result: { value?: T; error?: unknown } = {};
  promise.then(
    (value) => (result.value = value),
    (error: unknown) => (result.error = error),
  );
  return result;
}

describe("failover", () => {
  it("tries each other host exactly once and then gives up with Unreachable", async () => {
    const { api, transport } = setup();
    const result = outcome(api.get("/api/me"));
    for (let i = 0; i < 3; i++) {
      await settle();
      transport.last().fail();
    }
    await settle();
    expect(transport.hosts().sort()).toEqual([A, B, C]);
    expect(result.error).toBeInstanceOf(Unreachable);
    expect((result.error as Unreachable).retryAt).toBeGreaterThan(Date.now());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.calls).toHaveLength(3);
  });

  it("moves on after a 503 and reports the node's error when every host says so", async () => {
    const { api, transport } = setup([A, B]);
    const result = outcome(api.post("/oauth/token", { form: { grant_type: "password" } }));
    await settle();
    transport.last().respond(503, { error: "temporarily_unavailable" });
    await settle();
    transport.last().respond(503, { error: "temporarily_unavailable" });
    await settle();
    expect(transport.hosts()).toEqual([A, B]);
    expect(result.error).toMatchObject({ status: 503, code: "temporarily_unavailable" });
  });

  it("takes a final 4xx answer as it is without asking another host", async () => {
    const { api, transport } = setup();
    const result = outcome(api.get("/api/lessons/x"));
    await settle();
    transport.last().respond(404, { error: "not_found", message: "No such lesson." });
    await settle();
    expect(transport.calls).toHaveLength(1);
    expect(result.error).toEqual(new ApiError(404, "not_found", "No such lesson."));
  });

  it("abandons a host that sends no headers in time and marks it down", async () => {
    const { api, transport, hosts } = setup([A, B]);
    const result = outcome(api.post("/api/pairings", { json: { code: "123456" } }));
    await vi.advanceTimersByTimeAsync(7_999);
    expect(transport.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls[0]?.aborted).toBe(true);
    expect(hosts.isDown(A)).toBe(true);
    transport.last().respond(201, { pairing_id: "p" });
    await settle();
    expect(result.value).toMatchObject({ data: { pairing_id: "p" }, host: B });
  });

  it("does not mark a host down for a slow answer within the timeout", async () => {
    const { api, transport, hosts } = setup([A, B]);
    const result = outcome(api.put("/api/lessons/l", { json: { title: "Maths" } }));
    await vi.advanceTimersByTimeAsync(7_000);
    transport.last().respond(200, { id: "l" });
    await settle();
    expect(result.value?.host).toBe(A);
    expect(hosts.isDown(A)).toBe(false);
    expect(hosts.current).toBe(A);
  });

  it("rejects with an AbortError when the caller aborts, marking no host down", async () => {
    const { api, transport, hosts } = setup([A, B]);
    const controller = new AbortController();
    const result = outcome(api.get("/api/lessons", { signal: controller.signal }));
    await settle();
    controller.abort();
    await settle();
    expect(isAbortError(result.error)).toBe(true);
    expect(transport.calls[0]?.aborted).toBe(true);
    expect(hosts.isDown(A)).toBe(false);
  });
});

describe("hedged GETs", () => {
  it("go to a second host only after the hedge delay, and the first answer wins", async () => {
    const { api, transport } = setup([A, B]);
    const result = outcome(api.get("/api/lessons"));
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.hosts()).toEqual([A]);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.hosts()).toEqual([A, B]);
    transport.last().respond(200, [{ id: "l" }]);
    await settle();
    expect(result.value).toEqual({ data: [{ id: "l" }], status: 200, host: B });
    expect(transport.calls[0]?.aborted).toBe(true);
  });

  it("stay on one host when it answers before the hedge delay", async () => {
    const { api, transport } = setup([A, B]);
    const result = outcome(api.get("/api/me"));
    await vi.advanceTimersByTimeAsync(900);
    transport.last().respond(200, { id: "u" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(transport.hosts()).toEqual([A]);
    expect(result.value?.host).toBe(A);
  });

  it("hedge sooner on a host that has been answering fast", async () => {
    const { api, transport, hosts } = setup([A, B]);
    for (let i = 0; i < 5; i++) hosts.succeeded(A, 100);
    void api.get("/api/me");
    await vi.advanceTimersByTimeAsync(250);
    expect(transport.hosts()).toEqual([A, B]);
  });
});

describe("writes", () => {
  it("carry the same Idempotency-Key when retried on another host", async () => {
    const { api, transport, uuid } = setup([A, B]);
    const result = outcome(api.post("/api/pairings", { json: { code: "123456" } }));
    await settle();
    transport.last().fail();
    await settle();
    transport.last().respond(201, { pairing_id: "p" });
    await settle();
    const keys = transport.calls.map((call) => call.request.headers["Idempotency-Key"]);
    expect(keys).toEqual([uuid.mock.results[0]?.value, uuid.mock.results[0]?.value]);
    expect(uuid).toHaveBeenCalledTimes(1);
    expect(result.value?.status).toBe(201);
  });

  it("get a fresh key each, unless the caller passes one", async () => {
    const { api, transport } = setup([A]);
    void api.delete("/api/pairings/1");
    void api.delete("/api/pairings/2");
    void api.delete("/api/pairings/3", { idempotencyKey: "mine" });
    await settle();
    const keys = transport.calls.map((call) => call.request.headers["Idempotency-Key"]);
    expect(new Set(keys).size).toBe(3);
    expect(keys[2]).toBe("mine");
  });

  it("are never hedged to a second host while the first may still apply them", async () => {
    const { api, transport } = setup([A, B]);
    void api.post("/api/lessons", { json: { title: "Maths" } });
    await vi.advanceTimersByTimeAsync(7_000);
    expect(transport.hosts()).toEqual([A]);
  });

  it("send forms, JSON and extra headers as given", async () => {
    const { api, transport } = setup([A]);
    void api.post("/oauth/token", { form: { grant_type: "password", username: "a b" } });
    void api.put("/api/lessons/l", { json: { title: "T" } }, { headers: { "If-Match": "3" } });
    await settle();
    const [form, json] = transport.calls.map((call) => call.request);
    expect(form?.body).toBe("grant_type=password&username=a+b");
    expect(form?.headers["Content-Type"]).toBe("application/x-www-form-urlencoded");
    expect(json?.body).toBe('{"title":"T"}');
    expect(json?.headers["If-Match"]).toBe("3");
  });
});

describe("authorization", () => {
  function provider(initial: string): Authorization & { refreshes: number } {
    let n = 0;
    const auth = {
      refreshes: 0,
      header: () => (n === 0 ? initial : `${initial}-${n}`),
      refresh: () => {
        auth.refreshes += 1;
        n += 1;
        return Promise.resolve(true);
      },
    };
    return auth;
  }

  it("refreshes a teacher's token once after a 401 and retries once", async () => {
    const { api, transport } = setup([A]);
    const auth = provider("Bearer t");
    api.authorization = auth;
    const result = outcome(api.get("/api/me"));
    await settle();
    transport.last().respond(401, { error: "invalid_token" });
    await settle();
    expect(transport.last().request.headers.Authorization).toBe("Bearer t-1");
    transport.last().respond(401, { error: "invalid_token" });
    await settle();
    expect(auth.refreshes).toBe(1);
    expect(transport.calls).toHaveLength(2);
    expect(result.error).toMatchObject({ status: 401, code: "invalid_token" });
  });

  it("does not try to refresh a board's credentials", async () => {
    const { api, transport } = setup([A]);
    const auth = provider("Board b:s");
    api.authorization = auth;
    const result = outcome(api.get("/api/lessons/l"));
    await settle();
    transport.last().respond(401, { error: "invalid_credentials" });
    await settle();
    expect(auth.refreshes).toBe(0);
    expect(result.error).toBeInstanceOf(ApiError);
  });

  it("sends no Authorization header on anonymous calls", async () => {
    const { api, transport } = setup([A]);
    api.authorization = provider("Bearer t");
    void api.post("/api/session/token", undefined, { anonymous: true });
    await settle();
    expect(transport.last().request.headers.Authorization).toBeUndefined();
  });
});

describe("errors", () => {
  it("read RFC 6749 bodies and Retry-After", async () => {
    const { api, transport } = setup([A]);
    const result = outcome(api.post("/oauth/token", { form: {} }));
    await settle();
    transport
      .last()
      .respond(
        429,
        { error: "slow_down", error_description: "Too many attempts." },
        { "Retry-After": "30" },
      );
    await settle();
    expect(result.error).toEqual(new ApiError(429, "slow_down", "Too many attempts.", 30));
  });
});

describe("uploads", () => {
  it("report progress and keep going while bytes flow, past the header timeout", async () => {
    const { api, transport } = setup([A, B]);
    const progress: number[] = [];
    const blob = new Blob(["%PDF-"], { type: "application/pdf" });
    const result = outcome(
      api.upload("/api/uploads?filename=a.pdf", blob, {
        onProgress: (sent) => progress.push(sent),
      }),
    );
    for (let sent = 1; sent <= 5; sent++) {
      await vi.advanceTimersByTimeAsync(30_000);
      transport.last().onProgress?.(sent, 5);
    }
    transport.last().respond(201, { id: "u" });
    await settle();
    expect(transport.calls).toHaveLength(1);
    expect(transport.last().request.headers["Content-Type"]).toBe("application/pdf");
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(result.value?.data).toEqual({ id: "u" });
  });

  it("move to another host with the same key when the first stalls", async () => {
    const { api, transport } = setup([A, B]);
    void api.upload("/api/uploads", new Blob(["x"]));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.hosts()).toEqual([A, B]);
    const [first, second] = transport.calls.map((call) => call.request.headers["Idempotency-Key"]);
    expect(second).toBe(first);
  });
});

describe("retrying", () => {
  it("retries a temporary failure with growing, capped waits until it succeeds", async () => {
    const { api } = setup([A]);
    const times: number[] = [];
    const operation = () => {
      times.push(Date.now());
      return times.length < 8
        ? Promise.reject(new ApiError(503, "unavailable", "Busy."))
        : Promise.resolve("done");
    };
    const result = outcome(api.retrying(operation));
    await vi.advanceTimersByTimeAsync(300_000);
    const waits = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(result.value).toBe("done");
  });

  it("waits at least as long as the node's Retry-After", async () => {
    const { api } = setup([A]);
    const operation = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(429, "rate_limited", "Slow down.", 20))
      .mockResolvedValue("ok");
    void api.retrying(operation);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(operation).toHaveBeenCalledTimes(2);
  });

  it("gives up at once on a final error", async () => {
    const { api } = setup([A]);
    const operation = vi.fn().mockRejectedValue(new ApiError(409, "conflict", "Stale."));
    const result = outcome(api.retrying(operation));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(result.error).toMatchObject({ code: "conflict" });
  });

  it("stops when aborted", async () => {
    const { api } = setup([A]);
    const controller = new AbortController();
    const operation = vi.fn().mockRejectedValue(new Unreachable(Date.now()));
    const result = outcome(api.retrying(operation, controller.signal));
    await vi.advanceTimersByTimeAsync(500);
    controller.abort();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(isAbortError(result.error)).toBe(true);
  });
});

describe("paths", () => {
  it("resolve media paths against the host that answered", () => {
    const { api } = setup([A]);
    expect(api.resolve("/media/abc?exp=1&sig=2", B)).toBe(`${B}/media/abc?exp=1&sig=2`);
    expect(api.resolve("https://cdn.example/x", B)).toBe("https://cdn.example/x");
  });
});

describe("readJson", () => {
  it("gives up on a static file that does not come in time", async () => {
    const transport = new FakeTransport();
    const result = outcome(readJson(transport, systemClock, "/config.json", 5_000));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(isAbortError(result.error)).toBe(true);
  });
});
