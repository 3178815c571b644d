import { describe, expect, it } from "vitest";
import { ApiError, errorFromAnswer, isTemporary, parseRetryAfter, Unreachable } from "./errors";

const now = Date.parse("2024-09-02T08:30:00Z");

describe("errors", () => {
  it("read Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Mon, 02 Sep 2024 08:30:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Mon, 02 Sep 2024 08:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("still say what happened when a proxy answers with HTML", () => {
    const error = errorFromAnswer(502, "<html>Bad Gateway</html>", null, now);
    expect(error).toMatchObject({ status: 502, code: "http_502" });
    expect(error.message).toContain("502");
  });

  it("count only unreachable, 429, gateway answers and a write still running as worth retrying", () => {
    expect(isTemporary(new Unreachable(now))).toBe(true);
    for (const status of [429, 502, 503, 504]) {
      expect(isTemporary(new ApiError(status, "x", "x"))).toBe(true);
    }
    for (const status of [400, 401, 403, 404, 409, 413, 500]) {
      expect(isTemporary(new ApiError(status, "x", "x"))).toBe(false);
    }
    expect(isTemporary(new ApiError(409, "request_in_progress", "x", 1))).toBe(true);
  });
});
