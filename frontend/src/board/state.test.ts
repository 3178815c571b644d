import { describe, expect, it } from "vitest";

import type { Action, BoardEvent } from "../net/protocol";
import {
  applyEvent,
  EMPTY_STATE,
  estimateSkew,
  stateAfterWelcome,
  formatCountdown,
  secondsLeft,
  visibleSlide,
} from "./state";

let offset = 0;
function event(action: Action, at = "2026-12-04T08:30:00.000Z"): BoardEvent {
  offset += 1;
  return { offset, id: `c${offset}`, action, by: "ann", at };
}

function replay(actions: Action[], slideCount?: number) {
  return actions.reduce((state, a) => applyEvent(state, event(a), slideCount), EMPTY_STATE);
}

describe("the board's state from its events", () => {
  it("opens a lesson at its first slide, unblanked", () => {
    const state = replay([
      { kind: "blank", on: true },
      { kind: "open_lesson", lesson_id: "l1" },
    ]);
    expect(state).toEqual({ lesson_id: "l1", slide: 0, blank: false, timer_ends_at: null });
  });

  it("stays on the last slide when next is pressed there, and on the first for prev", () => {
    const open: Action = { kind: "open_lesson", lesson_id: "l1", slide: 1 };
    expect(replay([open, { kind: "next" }, { kind: "next" }], 3).slide).toBe(2);
    expect(replay([open, { kind: "prev" }, { kind: "prev" }], 3).slide).toBe(0);
  });

  it("blanks without losing the slide, and clear empties everything", () => {
    const state = replay([
      { kind: "open_lesson", lesson_id: "l1" },
      { kind: "goto", slide: 2 },
      { kind: "blank", on: true },
    ]);
    expect(state.slide).toBe(2);
    expect(state.blank).toBe(true);
    expect(applyEvent(state, event({ kind: "clear" }))).toEqual(EMPTY_STATE);
  });

  it("ends a timer counted from when the node accepted it, and stops it", () => {
    const started = applyEvent(
      EMPTY_STATE,
      event({ kind: "timer", seconds: 300 }, "2026-12-04T08:30:00.000Z"),
    );
    expect(started.timer_ends_at).toBe("2026-12-04T08:35:00.000Z");
    expect(applyEvent(started, event({ kind: "timer", seconds: null })).timer_ends_at).toBeNull();
  });
});

describe("a welcome", () => {
  const welcome = (reset: boolean, events: BoardEvent[]) => ({
    type: "welcome" as const,
    node: "node-a",
    board_id: "b",
    offset: 9,
    state: { ...EMPTY_STATE, lesson_id: "node-says", slide: 4 },
    events,
    reset,
  });

  it("replaces the state when it resets, whatever was shown before", () => {
    const shown = { ...EMPTY_STATE, lesson_id: "l1", slide: 1 };
    expect(stateAfterWelcome(shown, welcome(true, []))).toEqual(welcome(true, []).state);
  });

  it("else brings what was missed on top of what is shown", () => {
    const shown = { ...EMPTY_STATE, lesson_id: "l1", slide: 1 };
    const missed = [event({ kind: "next" }), event({ kind: "blank", on: true })];
    expect(stateAfterWelcome(shown, welcome(false, missed), 5)).toEqual({
      ...shown,
      slide: 2,
      blank: true,
    });
  });
});

describe("what the board shows of its state", () => {
  it("keeps the slide inside a lesson an edit made shorter", () => {
    const state = { ...EMPTY_STATE, lesson_id: "l1", slide: 7 };
    expect(visibleSlide(state, 3)).toBe(2);
    expect(visibleSlide(state, 10)).toBe(7);
  });

  it("counts the timer down in the node's time, whatever the board's clock says", () => {
    const endsAt = "2026-12-04T08:35:00.000Z";
    const nodeNow = Date.parse("2026-12-04T08:34:00.000Z");
    const twoMinutesAhead = 120_000;
    expect(secondsLeft(endsAt, nodeNow + twoMinutesAhead, twoMinutesAhead)).toBe(60);
    expect(secondsLeft(endsAt, nodeNow + 10 * 60_000, 0)).toBe(0);
    expect(secondsLeft(null, nodeNow, 0)).toBeNull();
    expect(formatCountdown(65)).toBe("1:05");
    expect(formatCountdown(3_725)).toBe("1:02:05");
  });

  it("learns the clock's lead from the quickest event", () => {
    const at = "2026-12-04T08:30:00.000Z";
    const sent = Date.parse(at);
    const first = estimateSkew(null, at, sent + 60_050);
    expect(estimateSkew(first, at, sent + 60_010)).toBe(60_010);
    expect(estimateSkew(60_010, at, sent + 61_000)).toBe(60_010);
  });
});
