// What a failed API call means to the app: an answer the node gave (`ApiError`, from docs/api.md's
// `{"error","message"}` bodies or RFC 6749's `{"error","error_description"}`) or no answer
// from any host at all (`Unreachable`). Views show a message for each; never a spinner forever.

/** The node answered with an error; `code` is docs/api.md's snake_case code. */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds the node asked us to wait (`Retry-After`, mostly on 429 and 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** No host answered: every one refused, timed out or said it cannot serve. */
export class Unreachable extends Error {
  override readonly name = "Unreachable";

  constructor(
    /** When (epoch ms) trying again is sensible: the first host marked down comes back. */
    readonly retryAt: number,
  ) {
    super("No boardcast server could be reached.");
  }
}

/** Whether trying the same operation again later may succeed. */
export function isTemporary(error: unknown): boolean {
  if (error instanceof Unreachable) return true;
  if (!(error instanceof ApiError)) return false;
  // 409 request_in_progress: the first try of this very write still runs on some node;
  // retried with the same Idempotency-Key, it gets that try's answer.
  return [429, 502, 503, 504].includes(error.status) || error.code === "request_in_progress";
}

/** `Retry-After` (delta-seconds or an HTTP date) as seconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The error a non-2xx answer stands for, whatever its body holds. */
export function errorFromAnswer(
  status: number,
  body: string,
  retryAfter: string | null,
  now: number,
): ApiError {
  let code = `http_${status}`;
  let message = `The server answered ${status}.`;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null) {
      const fields = parsed as Record<string, unknown>;
      if (typeof fields.error === "string") code = fields.error;
      const text = fields.message ?? fields.error_description;
      if (typeof text === "string") message = text;
    }
  } catch {
    // Not JSON (a proxy's HTML page): the status alone says what happened.
  }
  return new ApiError(status, code, message, parseRetryAfter(retryAfter, now));
}
