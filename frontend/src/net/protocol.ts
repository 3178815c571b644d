// The realtime protocol of docs/api.md ("Websocket: GET /ws") as TypeScript types, mirroring the
// node's `realtime/frames.rs` and `domain/board/`, plus the one check every incoming
// frame passes: a malformed or unknown frame is dropped instead of crashing the view.

/** What a controller may ask a board to do (`action.kind`). Slides count from 0. */
export type Action =
  | { kind: "open_lesson"; lesson_id: string; slide?: number }
  | { kind: "goto"; slide: number }
  | { kind: "next" }
  | { kind: "prev" }
  | { kind: "blank"; on: boolean }
  | { kind: "timer"; seconds: number | null }
  | { kind: "clear" };

/** What a board shows. `timer_ends_at` is an RFC 3339 time. */
export interface BoardState {
  lesson_id: string | null;
  slide: number;
  blank: boolean;
  timer_ends_at: string | null;
}

/** One accepted command in the board's log; `offset`s count up by one without gaps. */
export interface BoardEvent {
  offset: number;
  id: string;
  action: Action;
  by: string;
  at: string;
}

export interface BoardHello {
  type: "hello";
  role: "board";
  board_id: string;
  board_secret: string;
  offset?: number;
}

export interface ControllerHello {
  type: "hello";
  role: "controller";
  access_token: string;
  pairing_id: string;
  offset?: number;
}

export type HelloFrame = BoardHello | ControllerHello;

export type ClientFrame =
  | HelloFrame
  | { type: "command"; id: string; action: Action }
  | { type: "pointer"; x: number; y: number }
  | { type: "pointer"; hidden: true }
  | { type: "request_code" }
  | { type: "ping" }
  | { type: "shown"; offset: number };

export interface WelcomeFrame {
  type: "welcome";
  node: string;
  board_id: string;
  offset: number;
  state: BoardState;
  events: BoardEvent[];
  reset: boolean;
}

export interface AckFrame {
  type: "ack";
  id: string;
  offset: number;
}

export type EventFrame = { type: "event" } & BoardEvent;

export interface ErrorFrame {
  type: "error";
  id?: string;
  error: string;
  message: string;
}

export type PointerFrame =
  { type: "pointer"; x: number; y: number } | { type: "pointer"; hidden: true };

export type ServerFrame =
  | WelcomeFrame
  | AckFrame
  | EventFrame
  | ErrorFrame
  | { type: "pong" }
  | PointerFrame
  | { type: "code"; code: string; expires_at: string }
  | { type: "presence"; board_online: boolean; controllers: number }
  | { type: "paired"; pairing_id: string; by: string }
  | { type: "lesson_updated"; lesson_id: string; version: number }
  | { type: "shown"; offset: number; at: string };

/** `error` frame codes that decided nothing: the same command id may be sent again. */
const RETRYABLE_ERRORS: ReadonlySet<string> = new Set(["unavailable", "internal_error"]);

/** Whether an `error` frame's code allows sending the same command again; others are final. */
export function isRetryableError(code: string): boolean {
  return RETRYABLE_ERRORS.has(code);
}

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStringOrNull = (v: unknown): boolean => v === null || isString(v);
const isUnit = (v: unknown): v is number => typeof v === "number" && v >= 0 && v <= 1;

function isAction(v: unknown): v is Action {
  if (!isObject(v)) return false;
  switch (v.kind) {
    case "open_lesson":
      return isString(v.lesson_id) && (v.slide === undefined || isOffset(v.slide));
    case "goto":
      return isOffset(v.slide);
    case "next":
    case "prev":
    case "clear":
      return true;
    case "blank":
      return typeof v.on === "boolean";
    case "timer":
      return v.seconds === null || isOffset(v.seconds);
    default:
      return false;
  }
}

function isBoardState(v: unknown): v is BoardState {
  return (
    isObject(v) &&
    isStringOrNull(v.lesson_id) &&
    isOffset(v.slide) &&
    typeof v.blank === "boolean" &&
    isStringOrNull(v.timer_ends_at)
  );
}

function isBoardEvent(v: unknown): v is BoardEvent {
  return (
    isObject(v) &&
    isOffset(v.offset) &&
    isString(v.id) &&
    isAction(v.action) &&
    isString(v.by) &&
    isString(v.at)
  );
}

/** Per frame type, whether the fields a view relies on are there with the right types. */
const SHAPES: Record<ServerFrame["type"], (f: Fields) => boolean> = {
  welcome: (f) =>
    isString(f.node) &&
    isString(f.board_id) &&
    isOffset(f.offset) &&
    isBoardState(f.state) &&
    Array.isArray(f.events) &&
    f.events.every(isBoardEvent) &&
    typeof f.reset === "boolean",
  ack: (f) => isString(f.id) && isOffset(f.offset),
  event: isBoardEvent,
  error: (f) => (f.id === undefined || isString(f.id)) && isString(f.error) && isString(f.message),
  pong: () => true,
  pointer: (f) => f.hidden === true || (isUnit(f.x) && isUnit(f.y)),
  code: (f) => isString(f.code) && isString(f.expires_at),
  presence: (f) => typeof f.board_online === "boolean" && isOffset(f.controllers),
  paired: (f) => isString(f.pairing_id) && isString(f.by),
  lesson_updated: (f) => isString(f.lesson_id) && Number.isSafeInteger(f.version),
  shown: (f) => isOffset(f.offset) && isString(f.at),
};
const SHAPE_OF = new Map(Object.entries(SHAPES));

/** The frame in `text`, or null when it is not JSON, of an unknown type or missing fields. */
export function parseServerFrame(text: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || !isString(value.type)) return null;
  const fits = SHAPE_OF.get(value.type);
  return fits?.(value) ? (value as unknown as ServerFrame) : null;
}

/** The text of a client frame, as the node expects it. */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
