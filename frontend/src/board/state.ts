// What a board shows, from its log: the same rules the node applies when it accepts a command
// (`domain/board/`), replayed on every screen so that each one shows what the log says.
// The node has already checked every event, so nothing here refuses anything; the only thing a
// screen must know besides the event is the open lesson's slide count, for "next" at the end.

import type { BoardEvent, BoardState, WelcomeFrame } from "../net/protocol";

export const EMPTY_STATE: BoardState = {
  lesson_id: null,
  slide: 0,
  blank: false,
  timer_ends_at: null,
};

/** The state after `event`. `slideCount` is the open lesson's, when the screen has it. */
export function applyEvent(state: BoardState, event: BoardEvent, slideCount?: number): BoardState {
  const action = event.action;
  switch (action.kind) {
    case "open_lesson":
      return { ...state, lesson_id: action.lesson_id, slide: action.slide ?? 0, blank: false };
    case "goto":
      return { ...state, slide: action.slide };
    case "next": {
      const last = slideCount === undefined ? Infinity : Math.max(0, slideCount - 1);
      return { ...state, slide: Math.min(state.slide + 1, last) };
    }
    case "prev":
      return { ...state, slide: Math.max(0, state.slide - 1) };
    case "blank":
      return { ...state, blank: action.on };
    case "timer":
      return {
        ...state,
        timer_ends_at:
          action.seconds === null
            ? null
            : new Date(Date.parse(event.at) + action.seconds * 1000).toISOString(),
      };
    case "clear":
      return EMPTY_STATE;
  }
}

/** The state after a `welcome`: its state when it resets, else `current` with its events. */
export function stateAfterWelcome(
  current: BoardState,
  welcome: WelcomeFrame,
  slideCount?: number,
): BoardState {
  if (welcome.reset) return welcome.state;
  return welcome.events.reduce((state, event) => applyEvent(state, event, slideCount), current);
}

/** The slide to show: the state's, within the lesson (an edit may have shortened it). */
export function visibleSlide(state: BoardState, slideCount: number): number {
  return Math.max(0, Math.min(state.slide, slideCount - 1));
}

/**
 * Whole seconds left on the timer at local time `now`, or null when none runs. `skewMs` is
 * how far the local clock is ahead of the node's (a board PC's clock is often minutes off).
 */
export function secondsLeft(
  timerEndsAt: string | null,
  now: number,
  skewMs: number,
): number | null {
  if (timerEndsAt === null) return null;
  const left = Date.parse(timerEndsAt) - (now - skewMs);
  return Math.max(0, Math.ceil(left / 1000));
}

/** `m:ss` (or `h:mm:ss`) for a countdown. */
export function formatCountdown(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * The local clock's lead over the node's, learned from an event just received: its `at` is
 * when the node accepted it, a few milliseconds before it arrived here. The smallest lead
 * seen is the best estimate (delays only ever add to it).
 */
export function estimateSkew(previous: number | null, eventAt: string, receivedAt: number): number {
  const lead = receivedAt - Date.parse(eventAt);
  return previous === null ? lead : Math.min(previous, lead);
}
