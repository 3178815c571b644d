// The HTTP client for boardcast's API, and the only caller of the network Transport. It keeps
// a teacher's click from hanging on a dead node: each request tries the hosts one at a time
// (every host at most once), GETs are hedged to a second host when the first is slower than
// usual, and every write carries one Idempotency-Key across all its attempts, so a write
// retried on another node is never applied twice.

import { backoffDelay, type BackoffPolicy } from "./backoff";
import { abortError, isAbortError, sleep, type Clock, type TimerId } from "./clock";
import { ApiError, errorFromAnswer, isTemporary, Unreachable } from "./errors";
import type { Hosts } from "./hosts";

/** A response whose headers have arrived; the body is read separately, without a deadline. */
export interface TransportResponse {
  status: number;
  header(name: string): string | null;
  text(): Promise<string>;
}

export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Blob;
  signal: AbortSignal;
}

/** `sent` of `total` bytes of an upload's body have gone out. */
export type UploadProgress = (sent: number, total: number) => void;

/**
 * The network, injected. Both calls send the session cookie (`credentials: "include"`),
 * resolve once response headers arrive, and reject on network errors and aborts.
 */
export interface Transport {
  request(request: TransportRequest): Promise<TransportResponse>;
  /** A request whose body reports progress as it is sent (fetch cannot). */
  upload(
    request: TransportRequest & { body: Blob },
    onProgress: UploadProgress,
  ): Promise<TransportResponse>;
}

/** Where the `Authorization` header comes from: a teacher's token or a board's secret. */
export interface Authorization {
  /** The header's value (`Bearer ...`, `Board id:secret`), or null to send none. */
  header(): string | null;
  /** Called once after a 401 on a Bearer request; true if a retry may now succeed. */
  refresh(): Promise<boolean>;
}

export interface ApiOptions {
  hosts: Hosts;
  transport: Transport;
  clock: Clock;
  random: () => number;
  /** Makes Idempotency-Keys; `crypto.randomUUID` in the browser. */
  uuid: () => string;
  /** An upload that sends nothing and hears nothing for this long moves to another host. */
  uploadStallMs?: number;
  /** Waits of `retrying`. */
  retryPolicy?: BackoffPolicy;
}

export type RequestBody = { json: unknown } | { form: Record<string, string> } | { blob: Blob };

export interface RequestOptions {
  /** Extra headers, e.g. `If-Match`. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Reuse a key to make a whole-operation retry (see `retrying`) idempotent too. */
  idempotencyKey?: string;
  /** Send no Authorization header (login and session calls, which use the cookie). */
  anonymous?: boolean;
}

export interface UploadOptions extends RequestOptions {
  onProgress?: UploadProgress;
}

/** A successful answer, with the host that gave it (media paths resolve against it). */
export interface ApiResponse<T> {
  data: T;
  status: number;
  host: string;
}

type Outcome =
  | { kind: "answer"; response: TransportResponse }
  | { kind: "failover"; error?: ApiError }
  | { kind: "cancelled" };

type Send = (host: string, signal: AbortSignal, alive: () => void) => Promise<TransportResponse>;

/** Answers that mean "this node cannot serve now; another may". */
const GATEWAY_ERRORS = new Set([502, 503, 504]);
const RETRY: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, jitter: 0.5 };

export class Api {
  /** Set by whoever holds the credentials (the teacher's login or the board's secret). */
  authorization: Authorization | null = null;

  constructor(private readonly options: ApiOptions) {}

  /** JSON of a GET. `T` is what docs/api.md promises for `path`; it is not checked here. */
  get<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.send<T>("GET", path, undefined, options);
  }

  post<T>(path: string, body?: RequestBody, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.send<T>("POST", path, body, options);
  }

  put<T>(path: string, body?: RequestBody, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.send<T>("PUT", path, body, options);
  }

  delete<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.send<T>("DELETE", path, undefined, options);
  }

  /** POSTs `blob` as the raw body (its own Content-Type), reporting progress; not hedged. */
  upload<T>(path: string, blob: Blob, options: UploadOptions = {}): Promise<ApiResponse<T>> {
    const { onProgress } = options;
    const headers = { "Content-Type": blob.type || "application/octet-stream", ...options.headers };
    return this.send<T>("POST", path, { blob }, { ...options, headers }, (request, alive) =>
      this.options.transport.upload({ ...request, body: blob }, (sent, total) => {
        alive();
        onProgress?.(sent, total);
      }),
    );
  }

  /** The absolute URL of a path the API returned (`/media/...`), on the host that gave it. */
  resolve(path: string, host: string): string {
    return /^https?:\/\//i.test(path) ? path : `${host}${path.startsWith("/") ? "" : "/"}${path}`;
  }

  /** A fresh Idempotency-Key, for callers that retry a whole write with `retrying`. */
  idempotencyKey(): string {
    return this.options.uuid();
  }

  /**
   * Runs `operation` until it succeeds, waiting longer after each temporary failure
   * (unreachable, 429, 502-504: 1 s doubling to 30 s, jittered, never before Retry-After).
   * Final errors and aborts are thrown at once. `onRetry` lets a view say when it retries.
   */
  async retrying<T>(
    operation: () => Promise<T>,
    signal?: AbortSignal,
    onRetry?: (error: unknown, delayMs: number) => void,
  ): Promise<T> {
    const { clock, random } = this.options;
    const policy = this.options.retryPolicy ?? RETRY;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw abortError();
      try {
        return await operation();
      } catch (error) {
        if (isAbortError(error) || !isTemporary(error)) throw error;
        let delay = backoffDelay(policy, attempt, random);
        if (error instanceof ApiError && error.retryAfter !== undefined) {
          delay = Math.max(delay, error.retryAfter * 1000);
        } else if (error instanceof Unreachable) {
          delay = Math.max(delay, Math.min(policy.maxMs, error.retryAt - clock.now()));
        }
        onRetry?.(error, delay);
        await sleep(clock, delay, signal);
      }
    }
  }

  private async send<T>(
    method: string,
    path: string,
    body: RequestBody | undefined,
    options: RequestOptions,
    upload?: (request: TransportRequest, alive: () => void) => Promise<TransportResponse>,
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { Accept: "application/json" };
    let payload: string | Blob | undefined;
    if (body && "json" in body) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body && "form" in body) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      payload = new URLSearchParams(body.form).toString();
    } else if (body) {
      payload = body.blob;
    }
    if (method !== "GET")
      headers["Idempotency-Key"] = options.idempotencyKey ?? this.options.uuid();
    Object.assign(headers, options.headers);

    const auth = options.anonymous ? null : this.authorization;
    for (let refreshed = false; ; refreshed = true) {
      const credential = auth?.header() ?? null;
      const sent = credential === null ? headers : { ...headers, Authorization: credential };
      const sendTo: Send = (host, signal, alive) => {
        const request = { method, url: `${host}${path}`, headers: sent, body: payload, signal };
        return upload ? upload(request, alive) : this.options.transport.request(request);
      };
      const { response, host } = await this.race(
        sendTo,
        method === "GET",
        !!upload,
        options.signal,
      );
      const isBearer = credential?.startsWith("Bearer ") === true;
      const mayRefresh = response.status === 401 && isBearer && !refreshed && auth !== null;
      if (mayRefresh && (await auth.refresh())) continue;
      return this.read<T>(response, host);
    }
  }

  /**
   * Tries the hosts in `hosts.order()`, each at most once: the next one as soon as one fails,
   * and for a hedged request also once the first is slower than its hedge delay. The first
   * answer wins and the attempts still running are aborted.
   */
  private race(
    send: Send,
    hedged: boolean,
    isUpload: boolean,
    signal?: AbortSignal,
  ): Promise<{ response: TransportResponse; host: string }> {
    const { hosts, clock } = this.options;
    const order = hosts.order();
    return new Promise((resolve, reject) => {
      const running = new Map<string, AbortController>();
      let next = 0;
      let settled = false;
      let hedgeTimer: TimerId;
      let lastError: ApiError | undefined;

      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(hedgeTimer);
        signal?.removeEventListener("abort", onAbort);
        for (const controller of running.values()) controller.abort();
        done();
      };
      const onAbort = () => settle(() => reject(abortError()));

      const launch = () => {
        clock.clearTimeout(hedgeTimer);
        const host = order[next++];
        if (host === undefined) {
          if (running.size === 0) {
            settle(() => reject(lastError ?? new Unreachable(hosts.nextRetryAt())));
          }
          return;
        }
        const controller = new AbortController();
        running.set(host, controller);
        if (hedged && running.size === 1 && next < order.length) {
          hedgeTimer = clock.setTimeout(launch, hosts.hedgeDelay(host));
        }
        void this.attempt(host, send, isUpload, controller.signal).then((outcome) => {
          running.delete(host);
          if (settled) return;
          if (outcome.kind === "answer") {
            settle(() => resolve({ response: outcome.response, host }));
          } else {
            lastError = (outcome.kind === "failover" && outcome.error) || lastError;
            launch();
          }
        });
      };

      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      launch();
    });
  }

  /**
   * One request to one host. Only getting no headers in time (or, for uploads, no progress)
   * counts as a timeout; a slow but working host is never marked down.
   */
  private async attempt(
    host: string,
    send: Send,
    isUpload: boolean,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const { hosts, clock } = this.options;
    const started = clock.now();
    const own = new AbortController();
    const limit = isUpload ? (this.options.uploadStallMs ?? 60_000) : hosts.headerTimeout(host);
    let timer: TimerId;
    const arm = () => {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(() => own.abort(), limit);
    };
    const forward = () => own.abort();
    signal.addEventListener("abort", forward, { once: true });
    arm();
    let response: TransportResponse;
    try {
      response = await send(host, own.signal, arm);
    } catch {
      if (signal.aborted) return { kind: "cancelled" };
      hosts.failed(host);
      return { kind: "failover" };
    } finally {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", forward);
    }
    if (GATEWAY_ERRORS.has(response.status)) {
      hosts.failed(host);
      const body = await response.text().catch(() => "");
      return { kind: "failover", error: this.errorFrom(response, body) };
    }
    hosts.succeeded(host, isUpload ? undefined : clock.now() - started);
    return { kind: "answer", response };
  }

  private async read<T>(response: TransportResponse, host: string): Promise<ApiResponse<T>> {
    const body = await response.text();
    if (response.status < 200 || response.status > 299) throw this.errorFrom(response, body);
    try {
      const data = (body === "" ? undefined : JSON.parse(body)) as T;
      return { data, status: response.status, host };
    } catch {
      throw new ApiError(response.status, "bad_response", "The server's answer was not JSON.");
    }
  }

  private errorFrom(response: TransportResponse, body: string): ApiError {
    const retryAfter = response.header("Retry-After");
    return errorFromAnswer(response.status, body, retryAfter, this.options.clock.now());
  }
}

/** Reads a static JSON file such as `config.json`, giving up after `timeoutMs`. */
export async function readJson(
  transport: Transport,
  clock: Clock,
  url: string,
  timeoutMs = 5_000,
): Promise<unknown> {
  const controller = new AbortController();
  const timer = clock.setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await transport.request({
      method: "GET",
      url,
      headers: { Accept: "application/json" },
      signal: controller.signal,
    });
    if (response.status !== 200)
      throw new ApiError(response.status, `http_${response.status}`, url);
    return JSON.parse(await response.text());
  } finally {
    clock.clearTimeout(timer);
  }
}
