// The live connection of one board or one controller to `GET /ws`. It keeps a class's board
// in step through node deaths and flaky school wifi: it notices a dead connection from
// missed pongs (not only from a close that may never come), reconnects with jittered
// backoff to the next host, resumes from the last applied offset, and delivers commands
// exactly once or tells the teacher they expired.

import { Backoff, type BackoffPolicy } from "./backoff";
import type { Clock, TimerId } from "./clock";
import { CommandQueue, type CommandHandle } from "./commands";
import type { Hosts } from "./hosts";
import { OffsetTracker } from "./offsets";
import {
  encodeClientFrame,
  parseServerFrame,
  type Action,
  type ClientFrame,
  type HelloFrame,
  type ServerFrame,
} from "./protocol";

/**
 * `connecting` until the first welcome; `online` while welcomed; `offline` while not, and
 * reconnecting in the background; `revoked` (the pairing was removed: close 4003) and
 * `closed` (by `close()`) are final.
 */
export type SocketStatus = "connecting" | "online" | "offline" | "revoked" | "closed";

/** One websocket, as `ConnectSocket` opened it. */
export interface SocketConnection {
  send(text: string): void;
  close(code?: number): void;
}

export interface SocketEvents {
  open(): void;
  message(text: string): void;
  /** The connection ended, whoever ended it; `code` is the close code (1006 if none). */
  close(code: number): void;
}

/** Opens a websocket to `url`; the browser's implementation is in transport.ts. */
export type ConnectSocket = (url: string, events: SocketEvents) => SocketConnection;

/** Credentials for each connection; asked again on every connect since tokens change. */
export interface HelloSource {
  /** The `hello` frame; the socket sets its `offset`. */
  hello(): Promise<HelloFrame>;
  /** After close 4001 (bad credentials): renew them before the next attempt. */
  refresh?(): Promise<void>;
}

export interface BoardSocketOptions {
  hosts: Hosts;
  connect: ConnectSocket;
  clock: Clock;
  random: () => number;
  uuid: () => string;
  hello: HelloSource;
  /** Every server frame but `pong`, after offset bookkeeping (see `OffsetTracker.welcome`). */
  onFrame?: (frame: ServerFrame) => void;
  onStatus?: (status: SocketStatus) => void;
  onCommand?: (command: CommandHandle) => void;
  pingIntervalMs?: number;
  /** With nothing received for this long, a welcomed connection counts as dead. */
  silenceLimitMs?: number;
  /** A connection not welcomed within this long counts as failed. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  reconnect?: BackoffPolicy;
  /** A connection up this long was healthy: the next reconnect starts from a short wait. */
  stableAfterMs?: number;
  /** Pointer frames are sent at most once per this interval (latest wins). */
  pointerIntervalMs?: number;
}

const RECONNECT: BackoffPolicy = { initialMs: 250, maxMs: 8_000, jitter: 1 };
const PING_MS = 3_000;

/** The websocket URL of an API host: http→ws, https→wss, path `/ws`. */
export function socketUrl(host: string): string {
  return `${host.replace(/^http/i, "ws")}/ws`;
}

export class BoardSocket {
  private state: SocketStatus = "connecting";
  private connection: SocketConnection | null = null;
  /** Counts connections; events of an older one are ignored. */
  private generation = 0;
  private host = "";
  private welcomedAt: number | null = null;
  private lastHeard = 0;
  private networkOnline = true;
  private codeWanted = false;
  private pointerPending: ClientFrame | null = null;
  private lastPointerAt = -Infinity;
  private readonly timers = new Map<"retry" | "ping" | "watchdog" | "pointer", TimerId>();
  private readonly tracker = new OffsetTracker();
  private readonly backoff: Backoff;
  private readonly commands: CommandQueue;

  constructor(private readonly options: BoardSocketOptions) {
    this.backoff = new Backoff(options.reconnect ?? RECONNECT, options.random);
    this.commands = new CommandQueue({
      clock: options.clock,
      uuid: options.uuid,
      send: (frame) => this.sendIfOnline(frame),
      expireAfterMs: options.commandTimeoutMs ?? 5_000,
      retryAfterMs: 500,
      onStatus: options.onCommand,
    });
  }

  get status(): SocketStatus {
    return this.state;
  }

  /** The last applied offset (what `hello` resumes from). */
  get offset(): number | null {
    return this.tracker.offset;
  }

  start(): void {
    if (this.connection === null && !this.isFinal()) this.connect();
  }

  /** Stops for good; commands still waiting expire. */
  close(): void {
    this.stop("closed");
  }

  /** Sends `action` now or as soon as the socket is welcomed, unless it expires first. */
  command(action: Action): CommandHandle {
    return this.commands.issue(action);
  }

  /** The teacher's pointer at (x, y) in 0..1; latest wins, dropped while offline. */
  pointer(x: number, y: number): void {
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    this.queuePointer({ type: "pointer", x: clamp(x), y: clamp(y) });
  }

  hidePointer(): void {
    this.queuePointer({ type: "pointer", hidden: true });
  }

  /** Board: it has rendered the state up to `offset`. Best-effort. */
  shown(offset: number): void {
    this.sendIfOnline({ type: "shown", offset });
  }

  /** Board: asks for a pairing code now, or once welcomed if offline. */
  requestCode(): void {
    this.codeWanted = !this.sendIfOnline({ type: "request_code" });
  }

  /**
   * The browser's online/offline events. Going offline is reported at once (the socket
   * may not notice for a while); coming back reconnects at once.
   */
  setNetworkOnline(online: boolean): void {
    if (online === this.networkOnline || this.isFinal()) return;
    this.networkOnline = online;
    if (!online) {
      this.drop();
      this.reconnectIn(this.backoff.next());
    } else if (this.connection === null) {
      this.backoff.reset();
      this.reconnectIn(0);
    }
  }

  private connect(): void {
    this.clearTimer("retry");
    if (this.connection !== null) this.drop();
    const generation = this.generation;
    const live = () => generation === this.generation;
    this.host = this.options.hosts.order()[0] ?? this.options.hosts.current;
    this.heard();
    this.watch();
    try {
      this.connection = this.options.connect(socketUrl(this.host), {
        open: () => live() && this.opened(generation),
        message: (text) => live() && this.received(text),
        close: (code) => live() && this.closed(code),
      });
    } catch {
      this.closed(1006);
    }
  }

  private opened(generation: number): void {
    this.heard();
    this.options.hello.hello().then(
      (hello) => {
        if (generation !== this.generation) return;
        const offset = this.tracker.offset;
        this.send(offset === null ? hello : { ...hello, offset });
        this.schedulePing();
      },
      () => generation === this.generation && this.lost({ hostFailed: false }),
    );
  }

  private received(text: string): void {
    this.heard();
    const frame = parseServerFrame(text);
    if (!frame) return;
    switch (frame.type) {
      case "pong":
        return;
      case "welcome":
        this.welcomed(frame);
        return;
      case "event": {
        const verdict = this.tracker.event(frame);
        if (verdict === "apply") this.options.onFrame?.(frame);
        // Never apply past a gap: reconnect, and the welcome brings what is missing.
        if (verdict === "gap") this.lost({ hostFailed: false, quiet: true });
        return;
      }
      case "ack":
        this.commands.ack(frame);
        break;
      case "error":
        this.commands.refused(frame);
        break;
    }
    this.options.onFrame?.(frame);
  }

  private welcomed(frame: Extract<ServerFrame, { type: "welcome" }>): void {
    this.welcomedAt = this.options.clock.now();
    this.options.hosts.succeeded(this.host);
    this.watch();
    this.setStatus("online");
    this.options.onFrame?.(this.tracker.welcome(frame));
    this.commands.flush();
    if (this.codeWanted) this.requestCode();
  }

  private closed(code: number): void {
    const wasWelcomed = this.welcomedAt !== null;
    const stable = this.wasStable();
    this.drop();
    if (code === 4003) {
      this.stop("revoked");
      return;
    }
    if (code === 1012) {
      // The node is restarting: another one can take over at once.
      this.options.hosts.failed(this.host);
      this.reconnectIn(wasWelcomed ? 0 : this.backoff.next());
      return;
    }
    if (code === 4001) {
      const refresh = this.options.hello.refresh?.() ?? Promise.resolve();
      const delay = this.backoff.next();
      const generation = this.generation;
      void refresh
        .catch(() => undefined)
        .then(() => generation === this.generation && this.reconnectIn(delay));
      return;
    }
    if (stable) this.backoff.reset();
    else if (!wasWelcomed) this.options.hosts.failed(this.host);
    this.reconnectIn(this.backoff.next());
  }

  /**
   * Gives up on the connection in use and tries again: on another host if this one went
   * silent, quietly (status unchanged) if it only fell out of step.
   */
  private lost({ hostFailed, quiet = false }: { hostFailed: boolean; quiet?: boolean }): void {
    if (this.wasStable()) this.backoff.reset();
    this.drop();
    if (hostFailed) this.options.hosts.failed(this.host);
    this.reconnectIn(this.backoff.next(), quiet);
  }

  /** Closes and forgets the connection in use, if any; commands in flight wait again. */
  private drop(): void {
    this.generation++;
    this.connection?.close();
    this.connection = null;
    this.welcomedAt = null;
    this.pointerPending = null;
    for (const timer of ["ping", "watchdog", "pointer"] as const) this.clearTimer(timer);
    this.commands.disconnected();
  }

  private reconnectIn(delay: number, quiet = false): void {
    if (this.isFinal()) return;
    if (!quiet) this.setStatus("offline");
    this.setTimer("retry", delay, () => this.connect());
  }

  private stop(status: "revoked" | "closed"): void {
    this.drop();
    this.clearTimer("retry");
    this.setStatus(status);
    this.commands.expireAll();
  }

  private schedulePing(): void {
    this.setTimer("ping", this.options.pingIntervalMs ?? PING_MS, () => {
      this.send({ type: "ping" });
      this.schedulePing();
    });
  }

  private heard(): void {
    this.lastHeard = this.options.clock.now();
  }

  /**
   * Counts the connection dead once nothing at all has been heard for a while: a welcome
   * that does not come, or pongs that stop. Networks often vanish without a close.
   */
  private watch(): void {
    const { pingIntervalMs = PING_MS, connectTimeoutMs = 10_000 } = this.options;
    const { silenceLimitMs = 2 * pingIntervalMs + 1_000 } = this.options;
    const limit = this.welcomedAt === null ? connectTimeoutMs : silenceLimitMs;
    const silent = this.options.clock.now() - this.lastHeard;
    if (silent >= limit) this.lost({ hostFailed: true });
    else this.setTimer("watchdog", limit - silent, () => this.watch());
  }

  private queuePointer(frame: ClientFrame): void {
    if (this.welcomedAt === null) return;
    this.pointerPending = frame;
    if (this.timers.has("pointer")) return;
    const interval = this.options.pointerIntervalMs ?? 33;
    const wait = this.lastPointerAt + interval - this.options.clock.now();
    const flush = () => {
      this.timers.delete("pointer");
      if (this.pointerPending && this.sendIfOnline(this.pointerPending)) {
        this.lastPointerAt = this.options.clock.now();
      }
      this.pointerPending = null;
    };
    if (wait <= 0) flush();
    else this.setTimer("pointer", wait, flush);
  }

  private sendIfOnline(frame: ClientFrame): boolean {
    if (this.welcomedAt === null) return false;
    this.send(frame);
    return true;
  }

  private send(frame: ClientFrame): void {
    try {
      this.connection?.send(encodeClientFrame(frame));
    } catch {
      // A socket that cannot send is dead; the watchdog notices it.
    }
  }

  private wasStable(): boolean {
    const up = this.welcomedAt === null ? 0 : this.options.clock.now() - this.welcomedAt;
    return up >= (this.options.stableAfterMs ?? 5_000);
  }

  private isFinal(): boolean {
    return this.state === "revoked" || this.state === "closed";
  }

  private setStatus(status: SocketStatus): void {
    if (status === this.state) return;
    this.state = status;
    this.options.onStatus?.(status);
  }

  private setTimer(name: "retry" | "ping" | "watchdog" | "pointer", ms: number, fn: () => void) {
    this.clearTimer(name);
    this.timers.set(name, this.options.clock.setTimeout(fn, ms));
  }

  private clearTimer(name: "retry" | "ping" | "watchdog" | "pointer"): void {
    if (!this.timers.has(name)) return;
    this.options.clock.clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }
}
