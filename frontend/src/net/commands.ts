// A controller's commands on their way to the board. Each keeps one id for its whole life,
// so the node can answer a re-send with the first ack instead of moving the slide twice.
// A command that is not acknowledged within a few seconds expires and is never sent again:
// a "next" tapped on a dead connection must not land in front of the class minutes later.

import type { Clock, TimerId } from "./clock";
import {
  isRetryableError,
  type AckFrame,
  type Action,
  type ClientFrame,
  type ErrorFrame,
} from "./protocol";

export type CommandStatus =
  | { state: "queued" }
  | { state: "sent" }
  | { state: "acked"; offset: number }
  | { state: "refused"; code: string; message: string }
  | { state: "expired" };

export type FinalStatus = Extract<CommandStatus, { state: "acked" | "refused" | "expired" }>;

/** What a view holds of a command it issued. */
export interface CommandHandle {
  readonly id: string;
  readonly action: Action;
  readonly status: CommandStatus;
  /** Resolves once the command is acked, refused or expired. */
  readonly settled: Promise<FinalStatus>;
}

export interface CommandQueueOptions {
  clock: Clock;
  uuid: () => string;
  /** Sends a frame if the socket is welcomed; false if it is not (the command waits). */
  send: (frame: ClientFrame) => boolean;
  /** A command not acknowledged this long after it was issued expires. */
  expireAfterMs: number;
  /** Wait before re-sending a command the node could not decide (`unavailable`). */
  retryAfterMs: number;
  onStatus?: (command: CommandHandle) => void;
}

class Command implements CommandHandle {
  status: CommandStatus = { state: "queued" };
  expiry: TimerId;
  retry: TimerId;
  readonly settled: Promise<FinalStatus>;
  settle!: (status: FinalStatus) => void;

  constructor(
    readonly id: string,
    readonly action: Action,
  ) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }
}

export class CommandQueue {
  /** Commands not yet final, in the order they were issued. */
  private readonly pending = new Map<string, Command>();

  constructor(private readonly options: CommandQueueOptions) {}

  issue(action: Action): CommandHandle {
    const command = new Command(this.options.uuid(), action);
    this.pending.set(command.id, command);
    command.expiry = this.options.clock.setTimeout(
      () => this.finish(command, { state: "expired" }),
      this.options.expireAfterMs,
    );
    this.options.onStatus?.(command);
    this.transmit(command);
    return command;
  }

  /** After a welcome: sends what waited, and re-sends what a lost connection left unacked. */
  flush(): void {
    for (const command of this.pending.values()) {
      if (command.status.state === "queued") this.transmit(command);
    }
  }

  /** The connection is gone: whatever was sent may not have arrived, so it waits again. */
  disconnected(): void {
    for (const command of this.pending.values()) {
      this.options.clock.clearTimeout(command.retry);
      if (command.status.state === "sent") this.update(command, { state: "queued" });
    }
  }

  ack(frame: AckFrame): void {
    const command = this.pending.get(frame.id);
    if (command) this.finish(command, { state: "acked", offset: frame.offset });
  }

  /** An `error` frame about a command: retried later with the same id, or final. */
  refused(frame: ErrorFrame): void {
    const command = frame.id === undefined ? undefined : this.pending.get(frame.id);
    if (!command) return;
    if (!isRetryableError(frame.error)) {
      this.finish(command, { state: "refused", code: frame.error, message: frame.message });
      return;
    }
    this.update(command, { state: "queued" });
    this.options.clock.clearTimeout(command.retry);
    command.retry = this.options.clock.setTimeout(
      () => this.transmit(command),
      this.options.retryAfterMs,
    );
  }

  /** The socket is done for good (closed, pairing revoked): nothing will be delivered. */
  expireAll(): void {
    for (const command of [...this.pending.values()]) this.finish(command, { state: "expired" });
  }

  private transmit(command: Command): void {
    if (!this.pending.has(command.id) || command.status.state !== "queued") return;
    const frame: ClientFrame = { type: "command", id: command.id, action: command.action };
    if (this.options.send(frame)) this.update(command, { state: "sent" });
  }

  private finish(command: Command, status: FinalStatus): void {
    if (!this.pending.delete(command.id)) return;
    this.options.clock.clearTimeout(command.expiry);
    this.options.clock.clearTimeout(command.retry);
    this.update(command, status);
    command.settle(status);
  }

  private update(command: Command, status: CommandStatus): void {
    command.status = status;
    this.options.onStatus?.(command);
  }
}
