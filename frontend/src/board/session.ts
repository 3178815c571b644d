// One board's live session: its socket, the state its log leads to, the open lesson (kept on
// the device with its media), the pairing code, who paired, the laser pointer. The screen
// renders snapshots of it. What was last shown is kept in local storage too, so a board that
// reloads while the network is down comes back showing the same slide, not an error.

import { followNetwork } from "../app";
import { OpenLesson, type LoadedLesson } from "../lessons";
import {
  boardAuthorization,
  type BoardHello,
  type BoardSocket,
  type BoardState,
  type Net,
  type ServerFrame,
  type SocketStatus,
} from "../net";
import { prefetchMedia } from "../offline/media";
import {
  boardCredentials,
  forgetCredentials,
  register,
  type BoardCredentials,
} from "./credentials";
import { applyEvent, EMPTY_STATE, estimateSkew, stateAfterWelcome } from "./state";

export interface BoardSnapshot {
  status: SocketStatus;
  /** The node the socket is welcomed by. */
  node: string | null;
  offset: number;
  state: BoardState;
  /** The open lesson once loaded (it may lag behind `state.lesson_id` for a moment). */
  lesson: LoadedLesson | null;
  lessonMissing: boolean;
  code: string | null;
  pairedBy: { name: string; pairingId: string } | null;
  controllers: number;
  pointer: { x: number; y: number } | null;
  /** How far this PC's clock is ahead of the nodes' (null until an event tells). */
  skewMs: number | null;
}

const SAVED = "boardcast.board.view";

/** How long "Jan de Vries connected" and its "not me" stay on screen. */
const PAIRED_NOTICE_MS = 120_000;

interface Saved {
  offset: number;
  state: BoardState;
  lesson: LoadedLesson | null;
}

function restore(storage: Storage): Saved {
  try {
    const saved = JSON.parse(storage.getItem(SAVED) ?? "null") as Saved | null;
    if (saved && typeof saved.offset === "number" && saved.state) return saved;
  } catch {
    // Nothing usable kept: start empty.
  }
  return { offset: 0, state: EMPTY_STATE, lesson: null };
}

export class BoardSession {
  private snapshot: BoardSnapshot;
  private readonly listeners = new Set<(snapshot: BoardSnapshot) => void>();
  private socket: BoardSocket | null = null;
  private credentials: BoardCredentials | null = null;
  private readonly lesson: OpenLesson;
  private pairedTimer: ReturnType<typeof setTimeout> | undefined;
  /** The offset the screen last painted; receipts sent while offline are lost. */
  private renderedOffset: number | null = null;
  private unfollow: () => void = () => undefined;
  private readonly stopped = new AbortController();

  constructor(
    private readonly net: Net,
    private readonly storage: Storage,
  ) {
    this.lesson = new OpenLesson(net.api, {
      loaded: (lesson) => {
        this.update({ lesson, lessonMissing: false });
        if (lesson) void prefetchMedia(Object.values(lesson.media));
      },
      // Deleted, or no longer open here: say so calmly.
      refused: () => this.update({ lessonMissing: true }),
    });
    const saved = restore(storage);
    this.snapshot = {
      status: "connecting",
      node: null,
      offset: saved.offset,
      state: saved.state,
      lesson: saved.lesson,
      lessonMissing: false,
      code: null,
      pairedBy: null,
      controllers: 0,
      pointer: null,
      skewMs: null,
    };
  }

  get current(): BoardSnapshot {
    return this.snapshot;
  }

  subscribe(listener: (snapshot: BoardSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.credentials = await boardCredentials(this.net.api, this.storage, this.stopped.signal);
    this.authorize();
    const socket = this.net.socket({
      hello: {
        hello: () => Promise.resolve(this.hello()),
        // 4001: the board was removed (unpaired for a week, or a restored database).
        refresh: async () => {
          forgetCredentials(this.storage);
          this.credentials = await register(this.net.api, this.storage, this.stopped.signal);
          this.authorize();
        },
      },
      onFrame: (frame) => this.received(frame),
      onStatus: (status) => this.update({ status }),
    });
    this.socket = socket;
    this.unfollow = followNetwork(socket);
    socket.start();
  }

  stop(): void {
    this.stopped.abort();
    this.lesson.stop();
    this.unfollow();
    this.socket?.close();
    clearTimeout(this.pairedTimer);
  }

  /** The screen has painted the state up to `offset`: the teachers learn it. */
  rendered(offset: number): void {
    this.renderedOffset = offset;
    this.socket?.shown(offset);
  }

  /** Says again what is on screen: to a node just reached, or a controller just joined. */
  private showAgain(): void {
    if (this.renderedOffset !== null) this.socket?.shown(this.renderedOffset);
  }

  /** "Not me": deletes the pairing that was just made. */
  async notMe(): Promise<void> {
    const paired = this.snapshot.pairedBy;
    if (!paired) return;
    await this.net.api.delete(`/api/pairings/${encodeURIComponent(paired.pairingId)}`);
    this.update({ pairedBy: null });
  }

  private hello(): BoardHello {
    const { board_id, board_secret } = this.credentials ?? { board_id: "", board_secret: "" };
    return { type: "hello", role: "board", board_id, board_secret };
  }

  private authorize(): void {
    const { board_id, board_secret } = this.credentials ?? { board_id: "", board_secret: "" };
    this.net.api.authorization = boardAuthorization(board_id, board_secret);
  }

  private received(frame: ServerFrame): void {
    const now = Date.now();
    switch (frame.type) {
      case "welcome": {
        const state = stateAfterWelcome(this.snapshot.state, frame, this.slideCount());
        this.update({ node: frame.node, offset: frame.offset, state });
        // A new node answers now: read the lesson again, its media resolved against it.
        this.loadLesson(true);
        this.showAgain();
        break;
      }
      case "event":
        this.update({
          offset: frame.offset,
          state: applyEvent(this.snapshot.state, frame, this.slideCount()),
          skewMs: estimateSkew(this.snapshot.skewMs, frame.at, now),
        });
        this.loadLesson(false);
        break;
      case "code":
        this.update({ code: frame.code });
        break;
      case "paired":
        clearTimeout(this.pairedTimer);
        this.update({ code: null, pairedBy: { name: frame.by, pairingId: frame.pairing_id } });
        this.pairedTimer = setTimeout(() => this.update({ pairedBy: null }), PAIRED_NOTICE_MS);
        break;
      case "presence":
        if (frame.controllers > this.snapshot.controllers) this.showAgain();
        this.update({ controllers: frame.controllers });
        break;
      case "pointer":
        this.update({ pointer: "hidden" in frame ? null : { x: frame.x, y: frame.y } });
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

  /** Loads the open lesson if it is not the one loaded (or `again`), and keeps its media. */
  private loadLesson(again: boolean): void {
    this.lesson.follow(this.snapshot.state.lesson_id, this.snapshot.lesson, again);
  }

  private update(change: Partial<BoardSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    if ("state" in change || "lesson" in change || "offset" in change) {
      const { offset, state, lesson } = this.snapshot;
      const saved: Saved = { offset, state, lesson };
      try {
        this.storage.setItem(SAVED, JSON.stringify(saved));
      } catch {
        // Storage full or denied: the board still works, it just forgets on reload.
      }
    }
    for (const listener of this.listeners) listener(this.snapshot);
  }
}
