// Test doubles for the net layer: a scripted random source, a transport whose requests the
// test answers one by one, websockets the test plays the node's side of, and counters
// standing in for crypto.randomUUID. Only tests import this file.

import type { Transport, TransportRequest, TransportResponse, UploadProgress } from "./api";
import { abortError } from "./clock";
import type { ConnectSocket, SocketConnection, SocketEvents } from "./socket";

/** A random source that returns `values` in turn, then repeats the last one. */
export function randomSequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}

/** UUID-shaped ids counting up from 1, so tests can name them. */
export function counterIds(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
}

/** A request the fake transport is holding until the test answers it. */
export interface PendingCall {
  request: TransportRequest;
  aborted: boolean;
  onProgress?: UploadProgress;
  respond(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** The network failed (connection refused, DNS, reset). */
  fail(): void;
}

export class FakeTransport implements Transport {
  readonly calls: PendingCall[] = [];

  request(request: TransportRequest): Promise<TransportResponse> {
    return this.hold(request);
  }

  upload(request: TransportRequest & { body: Blob }, onProgress: UploadProgress) {
    return this.hold(request, onProgress);
  }

  /** The hosts the requests went to, in order. */
  hosts(): string[] {
    return this.calls.map((call) => new URL(call.request.url).origin);
  }

  last(): PendingCall {
    const call = this.calls.at(-1);
    if (!call) throw new Error("no request was made");
    return call;
  }

  private hold(request: TransportRequest, onProgress?: UploadProgress) {
    return new Promise<TransportResponse>((resolve, reject) => {
      const call: PendingCall = {
        request,
        aborted: false,
        onProgress,
        respond: (status, body, headers = {}) => {
          const text = body === undefined ? "" : JSON.stringify(body);
          const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
          resolve({
            status,
            header: (name) => lower.get(name.toLowerCase()) ?? null,
            text: () => Promise.resolve(text),
          });
        },
        fail: () => reject(new TypeError("Failed to fetch")),
      };
      request.signal.addEventListener("abort", () => {
        call.aborted = true;
        reject(abortError());
      });
      this.calls.push(call);
    });
  }
}

/** A websocket the test plays the node's side of. */
export class FakeConnection implements SocketConnection {
  readonly sent: string[] = [];
  closedByClient: number | null = null;

  constructor(
    readonly url: string,
    private readonly events: SocketEvents,
  ) {}

  /** The frames the client sent, parsed. */
  frames(): Record<string, unknown>[] {
    return this.sent.map((text) => JSON.parse(text) as Record<string, unknown>);
  }

  framesOfType(type: string): Record<string, unknown>[] {
    return this.frames().filter((frame) => frame.type === type);
  }

  send(text: string): void {
    this.sent.push(text);
  }

  close(code = 1000): void {
    this.closedByClient = code;
  }

  open(): void {
    this.events.open();
  }

  receive(frame: object): void {
    this.events.message(JSON.stringify(frame));
  }

  /** The node (or the network) ended the connection. */
  end(code: number): void {
    this.events.close(code);
  }
}

/** Opens FakeConnections; `connect` is the ConnectSocket to inject. */
export class FakeSockets {
  readonly connections: FakeConnection[] = [];

  readonly connect: ConnectSocket = (url, events) => {
    const connection = new FakeConnection(url, events);
    this.connections.push(connection);
    return connection;
  };

  last(): FakeConnection {
    const connection = this.connections.at(-1);
    if (!connection) throw new Error("no connection was opened");
    return connection;
  }
}
