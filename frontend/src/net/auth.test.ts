import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "./api";
import { AuthError, TeacherAuth } from "./auth";
import { systemClock } from "./clock";
import { Hosts } from "./hosts";
import { counterIds, FakeTransport, randomSequence } from "./testing";

const A = "https://a.example";
const B = "https://b.example";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const settle = () => vi.advanceTimersByTimeAsync(0);

function setup(urls = [A]) {
  const random = randomSequence(0);
  const hosts = new Hosts(urls, { clock: systemClock, random });
  const transport = new FakeTransport();
  const api = new Api({ hosts, transport, clock: systemClock, random, uuid: counterIds() });
  const onChange = vi.fn();
  const auth = new TeacherAuth({ api, clock: systemClock, onChange });
  api.authorization = auth;
  return { transport, api, auth, onChange };
}

async function failure(promise: Promise<unknown>): Promise<AuthError> {
  const error: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof AuthError)) throw new Error(`expected an AuthError, got ${String(error)}`);
  return error;
}

describe("login", () => {
  it("posts the password grant as a form and then sends the token as Bearer", async () => {
    const { transport, auth, onChange } = setup();
    const login = auth.login(" ms.jansen ", "p&ss word");
    await settle();
    const request = transport.last().request;
    expect(request.url).toBe(`${A}/oauth/token`);
    expect(request.headers.Authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(request.body as string))).toEqual({
      grant_type: "password",
      client_id: "web",
      username: "ms.jansen",
      password: "p&ss word",
    });
    transport.last().respond(200, { access_token: "t1", expires_in: 300, token_type: "Bearer" });
    await login;
    expect(onChange).toHaveBeenCalledWith(true);
    void auth.me();
    await settle();
    expect(transport.last().request.headers.Authorization).toBe("Bearer t1");
  });

  it("refuses an empty username or password without asking the server", async () => {
    const { transport, auth } = setup();
    expect((await failure(auth.login("  ", "secret"))).kind).toBe("missing_credentials");
    expect((await failure(auth.login("ms.jansen", ""))).kind).toBe("missing_credentials");
    expect(transport.calls).toHaveLength(0);
  });

  it("says the credentials are wrong on invalid_grant", async () => {
    const { transport, auth } = setup();
    const login = failure(auth.login("ms.jansen", "wrong"));
    await settle();
    transport.last().respond(400, { error: "invalid_grant", error_description: "Bad." });
    const error = await login;
    expect(error.kind).toBe("invalid_credentials");
    expect(error.message).not.toContain("wrong");
  });

  it("says how long to wait when throttled", async () => {
    const { transport, auth } = setup();
    const login = failure(auth.login("ms.jansen", "pw"));
    await settle();
    transport.last().respond(429, { error: "slow_down" }, { "Retry-After": "42" });
    expect(await login).toMatchObject({ kind: "throttled", retryAfter: 42 });
  });

  it("tells a directory outage apart from an unreachable server", async () => {
    const down = setup([A, B]);
    const directory = failure(down.auth.login("ms.jansen", "pw"));
    await settle();
    down.transport.last().respond(503, { error: "temporarily_unavailable" });
    await settle();
    down.transport.last().respond(503, { error: "temporarily_unavailable" });
    expect((await directory).kind).toBe("directory_down");

    const cut = setup([A]);
    const unreachable = failure(cut.auth.login("ms.jansen", "pw"));
    await settle();
    cut.transport.last().fail();
    expect((await unreachable).kind).toBe("unreachable");
  });
});

describe("session", () => {
  it("restores a login from the session cookie after a reload", async () => {
    const { transport, auth } = setup();
    const restored = auth.restore();
    await settle();
    expect(transport.last().request.url).toBe(`${A}/api/session/token`);
    transport.last().respond(200, { access_token: "t2", expires_in: 300 });
    expect(await restored).toBe(true);
    expect(auth.header()).toBe("Bearer t2");
  });

  it("reports no login when there is no session", async () => {
    const { transport, auth } = setup();
    const restored = auth.restore();
    await settle();
    transport.last().respond(401, { error: "no_session", message: "Log in." });
    expect(await restored).toBe(false);
    expect(auth.isLoggedIn).toBe(false);
  });

  it("renews the token before it expires", async () => {
    const { transport, auth } = setup();
    const restored = auth.restore();
    await settle();
    transport.last().respond(200, { access_token: "t1", expires_in: 300 });
    await restored;
    await vi.advanceTimersByTimeAsync(239_000);
    expect(transport.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transport.calls).toHaveLength(2);
    transport.last().respond(200, { access_token: "t2", expires_in: 300 });
    await settle();
    expect(auth.header()).toBe("Bearer t2");
  });

  it("renews the token on a 401 and repeats the request once", async () => {
    const { transport, auth } = setup();
    const restored = auth.restore();
    await settle();
    transport.last().respond(200, { access_token: "old", expires_in: 300 });
    await restored;
    const me = auth.me();
    await settle();
    transport.last().respond(401, { error: "invalid_token", message: "Expired." });
    await settle();
    expect(transport.last().request.url).toBe(`${A}/api/session/token`);
    transport.last().respond(200, { access_token: "new", expires_in: 300 });
    await settle();
    expect(transport.last().request.headers.Authorization).toBe("Bearer new");
    transport.last().respond(200, { id: "u", username: "j", display_name: "J", roles: [] });
    expect((await me).id).toBe("u");
  });

  it("logs out locally even when the server cannot be reached", async () => {
    const { transport, auth, onChange } = setup();
    const restored = auth.restore();
    await settle();
    transport.last().respond(200, { access_token: "t", expires_in: 300 });
    await restored;
    const logout = auth.logout();
    await settle();
    expect(transport.last().request).toMatchObject({ method: "DELETE", url: `${A}/api/session` });
    transport.last().fail();
    await logout;
    expect(auth.isLoggedIn).toBe(false);
    expect(onChange).toHaveBeenLastCalledWith(false);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(transport.calls).toHaveLength(2);
  });
});
