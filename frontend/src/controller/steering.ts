// A teacher steering one board: the socket with their pairing, the board's state from its
// log, the open lesson with its speaker notes, and what the board reports having shown. Each
// command's fate is tracked, so the screen can say pending, received, or on the board.

import { followNetwork } from "../app";
import { applyEvent, EMPTY_STATE, stateAfterWelcome } from "../board/state";
import { OpenLesson, type LoadedLesson } from "../lessons";
import {
  controllerHello,
  type Action,
  type BoardSocket,
  type BoardState,
  type CommandHandle,
  type Net,
  type ServerFrame,
  type SocketStatus,
  type TeacherAuth,
} from "../net";

export interface Steering {
  status: SocketStatus;
  node: string | null;
  offset: number;
  state: BoardState;
  /** The open lesson, when this teacher may read it (a colleague's lesson is not theirs). */
  lesson: LoadedLesson | null;
  /** The highest offset the board says it has painted, and when. */
  shownOffset: number | null;
  boardOnline: boolean;
  controllers: number;
  /** The last command this controller sent, with its current status. */
  last: CommandHandle | null;
}

/** What the teacher is told about their last command. */
export type Delivery = "pending" | "acknowledged" | "on_board" | "refused" | "expired";

export function delivery(steering: Steering): Delivery | null {
  const last = steering.last;
  if (!last) return null;
  switch (last.status.state) {
    case "queued":
    case "sent":
      return "pending";
    case "refused":
      return "refused";
    case "expired":
      return "expired";
    case "acked":
      return steering.shownOffset !== null && steering.shownOffset >= last.status.offset
        ? "on_board"
        : "acknowledged";
  }
}

/** Whether the board has painted everything in its log (true for every controller). */
export function boardIsCurrent(steering: Steering): boolean {
  return steering.shownOffset !== null && steering.shownOffset >= steering.offset;
}

export class SteeringSession {
  private snapshot: Steering = {
    status: "connecting",
    node: null,
    offset: 0,
    state: EMPTY_STATE,
    lesson: null,
    shownOffset: null,
    boardOnline: false,
    controllers: 0,
    last: null,
  };
  private readonly listeners = new Set<(steering: Steering) => void>();
  private readonly socket: BoardSocket;
  private readonly unfollow: () => void;
  private readonly lesson: OpenLesson;

  constructor(net: Net, auth: TeacherAuth, pairingId: string) {
    this.lesson = new OpenLesson(net.api, {
      loaded: (lesson) => this.update({ lesson }),
      // Not this teacher's lesson (a colleague's): they steer by slide number only.
      refused: () => this.update({ lesson: null }),
    });
    this.socket = net.socket({
      hello: controllerHello(auth, pairingId),
      onFrame: (frame) => this.received(frame),
      onStatus: (status) => this.update({ status }),
      onCommand: (command) => {
        if (command.id === this.snapshot.last?.id) this.update({ last: command });
      },
    });
    this.unfollow = followNetwork(this.socket);
    this.socket.start();
  }

  get current(): Steering {
    return this.snapshot;
  }

  subscribe(listener: (steering: Steering) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(action: Action): void {
    this.update({ last: this.socket.command(action) });
  }

  pointer(x: number, y: number): void {
    this.socket.pointer(x, y);
  }

  hidePointer(): void {
    this.socket.hidePointer();
  }

  close(): void {
    this.lesson.stop();
    this.unfollow();
    this.socket.close();
  }

  private received(frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome":
        this.update({
          node: frame.node,
          offset: frame.offset,
          state: stateAfterWelcome(this.snapshot.state, frame, this.slideCount()),
        });
        this.loadLesson(true);
        break;
      case "event":
        this.update({
          offset: frame.offset,
          state: applyEvent(this.snapshot.state, frame, this.slideCount()),
        });
        this.loadLesson(false);
        break;
      case "shown":
        if (frame.offset > (this.snapshot.shownOffset ?? -1)) {
          this.update({ shownOffset: frame.offset });
        }
        break;
      case "presence":
        this.update({ boardOnline: frame.board_online, controllers: frame.controllers });
        break;
      case "lesson_updated":
        if (frame.lesson_id === this.snapshot.state.lesson_id) this.loadLesson(true);
        break;
      default:
        break;
    }
  }

  private slideCount(): number | undefined {
    const { lesson, state } = this.snapshot;
    return lesson && lesson.id === state.lesson_id ? lesson.slides.length : undefined;
  }

  private loadLesson(again: boolean): void {
    this.lesson.follow(this.snapshot.state.lesson_id, this.snapshot.lesson, again);
  }

  private update(change: Partial<Steering>): void {
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of this.listeners) listener(this.snapshot);
  }
}
