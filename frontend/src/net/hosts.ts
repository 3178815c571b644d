// The API hosts and how much to trust each one. Every client picks a random node at start (so
// a school's boards spread over the cluster), sticks to one that works, and moves on when it
// refuses or stops answering; a host that failed is tried after the others for a while.
// Both the HTTP client and the websocket ask this one object, so they learn from each other.

import { backoffDelay, type BackoffPolicy } from "./backoff";
import type { Clock } from "./clock";
import { LatencyWindow } from "./latency";

export interface HostsOptions {
  clock: Clock;
  random: () => number;
  /** How long a failed host is tried last: grows with its consecutive failures. */
  down?: BackoffPolicy;
  /** The time allowed for response headers; raised for hosts that have been slow. */
  headerTimeoutMs?: number;
  maxHeaderTimeoutMs?: number;
  /** Bounds of the delay after which an unanswered GET is also sent to a second host. */
  hedgeMinMs?: number;
  hedgeMaxMs?: number;
}

interface Health {
  failures: number;
  downUntil: number;
  latency: LatencyWindow;
}

const DOWN: BackoffPolicy = { initialMs: 5_000, maxMs: 60_000, jitter: 0.5 };
/** Hedge delay while a host has too few latency samples to judge. */
const HEDGE_UNKNOWN_MS = 1_000;

/** `url` without trailing slashes, or null unless it is an absolute http(s) URL. */
export function normalizeHost(url: unknown): string | null {
  if (typeof url !== "string") return null;
  const trimmed = url.trim().replace(/\/+$/, "");
  return /^https?:\/\/[^/]/i.test(trimmed) ? trimmed : null;
}

function uniqueHosts(urls: readonly unknown[]): string[] {
  const hosts = urls.map(normalizeHost).filter((h): h is string => h !== null);
  return [...new Set(hosts)];
}

/**
 * The API URLs of a `config.json` (`{"api":[...]}`); empty when it has none usable. A node
 * that serves the app names its own entry in `self`: that one becomes `origin`, the address
 * the browser already reaches it by (`localhost` for `127.0.0.1`, a proxy's name).
 */
export function parseConfig(config: unknown, origin?: string): string[] {
  if (typeof config !== "object" || config === null) return [];
  const { api, self } = config as { api?: unknown; self?: unknown };
  if (!Array.isArray(api)) return [];
  const own = normalizeHost(self);
  return uniqueHosts(
    api.map((url: unknown) =>
      origin !== undefined && own !== null && normalizeHost(url) === own ? origin : url,
    ),
  );
}

/** The healthy nodes' public URLs from a `GET /api/cluster` answer. */
export function parseCluster(answer: unknown): string[] {
  if (!Array.isArray(answer)) return [];
  const healthy = answer.filter(
    (node: unknown) =>
      typeof node === "object" && node !== null && (node as { healthy?: unknown }).healthy === true,
  ) as { public_url?: unknown }[];
  return uniqueHosts(healthy.map((node) => node.public_url));
}

export class Hosts {
  private hosts: string[];
  private readonly health = new Map<string, Health>();
  private currentHost: string;

  /** `urls` must hold at least one host; the starting one is chosen at random. */
  constructor(
    urls: readonly string[],
    private readonly options: HostsOptions,
  ) {
    this.hosts = uniqueHosts(urls);
    const start = this.hosts[Math.floor(options.random() * this.hosts.length)];
    if (start === undefined) throw new Error("boardcast needs at least one API host");
    this.currentHost = start;
  }

  /** The host in use: the last one that answered, or the random pick at start. */
  get current(): string {
    return this.currentHost;
  }

  list(): readonly string[] {
    return this.hosts;
  }

  /**
   * The hosts to try for one request, one attempt each: the current one first, then the
   * others that are up in random order (spreading failover load), then those marked down,
   * soonest back first.
   */
  order(): string[] {
    const now = this.options.clock.now();
    const others = this.shuffled(this.hosts.filter((h) => h !== this.currentHost));
    const all = [this.currentHost, ...others];
    const up = all.filter((h) => !this.isDown(h, now));
    const down = all
      .filter((h) => this.isDown(h, now))
      .sort((a, b) => this.healthOf(a).downUntil - this.healthOf(b).downUntil);
    return [...up, ...down];
  }

  isDown(host: string, now = this.options.clock.now()): boolean {
    return this.healthOf(host).downUntil > now;
  }

  /** `host` answered (any HTTP status, or a welcome): stick to it and forget its failures. */
  succeeded(host: string, latencyMs?: number): void {
    const health = this.healthOf(host);
    health.failures = 0;
    health.downUntil = 0;
    if (latencyMs !== undefined) health.latency.add(latencyMs);
    if (this.hosts.includes(host)) this.currentHost = host;
  }

  /** `host` refused, timed out or said it cannot serve: try it last for a while. */
  failed(host: string): void {
    const now = this.options.clock.now();
    const health = this.healthOf(host);
    const delay = backoffDelay(this.options.down ?? DOWN, health.failures, this.options.random);
    health.failures += 1;
    health.downUntil = now + delay;
    if (host === this.currentHost) {
      const next = this.order().find((h) => h !== host);
      if (next !== undefined) this.currentHost = next;
    }
  }

  /** When trying again is worth it: the moment the first host marked down comes back. */
  nextRetryAt(): number {
    const now = this.options.clock.now();
    const back = this.hosts.map((h) => this.healthOf(h).downUntil).filter((t) => t > now);
    return back.length > 0 ? Math.min(...back) : now;
  }

  /** How long to wait for a GET's answer from `host` before asking a second host too. */
  hedgeDelay(host: string): number {
    const p90 = this.healthOf(host).latency.percentile(0.9);
    if (p90 === null) return HEDGE_UNKNOWN_MS;
    const { hedgeMinMs = 250, hedgeMaxMs = 3_000 } = this.options;
    return Math.min(hedgeMaxMs, Math.max(hedgeMinMs, p90 * 1.5));
  }

  /** How long `host` gets to send response headers: more if it has been slow lately. */
  headerTimeout(host: string): number {
    const { headerTimeoutMs = 8_000, maxHeaderTimeoutMs = 30_000 } = this.options;
    const p90 = this.healthOf(host).latency.percentile(0.9) ?? 0;
    return Math.min(maxHeaderTimeoutMs, Math.max(headerTimeoutMs, p90 * 3));
  }

  /**
   * Takes the cluster's own list of healthy nodes; an empty or malformed answer (or none)
   * keeps the list as it is. The current host stays in the list: it has just answered.
   */
  async refresh(fetchCluster: () => Promise<unknown>): Promise<void> {
    let fresh: string[];
    try {
      fresh = parseCluster(await fetchCluster());
    } catch {
      return;
    }
    if (fresh.length === 0) return;
    if (!fresh.includes(this.currentHost)) fresh.push(this.currentHost);
    this.hosts = fresh;
  }

  private healthOf(host: string): Health {
    let health = this.health.get(host);
    if (!health) {
      health = { failures: 0, downUntil: 0, latency: new LatencyWindow() };
      this.health.set(host, health);
    }
    return health;
  }

  private shuffled(hosts: string[]): string[] {
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(this.options.random() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j] as string, hosts[i] as string];
    }
    return hosts;
  }
}

/**
 * The hosts from `config.json` (read by `readConfig`), or the page's own origin when it
 * cannot be read or lists none: a node serving the SPA is an API host itself.
 */
export async function loadHosts(
  readConfig: () => Promise<unknown>,
  origin: string,
  options: HostsOptions,
): Promise<Hosts> {
  let urls: string[] = [];
  try {
    urls = parseConfig(await readConfig(), origin);
  } catch {
    // Unreadable config: the origin below.
  }
  return new Hosts(urls.length > 0 ? urls : [origin], options);
}
