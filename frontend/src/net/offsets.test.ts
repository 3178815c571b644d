import { describe, expect, it } from "vitest";
import { OffsetTracker } from "./offsets";
import type { BoardEvent, EventFrame, WelcomeFrame } from "./protocol";

const state = { lesson_id: "l", slide: 2, blank: false, timer_ends_at: null };

function event(offset: number): BoardEvent {
  return { offset, id: `c${offset}`, action: { kind: "next" }, by: "T", at: "t" };
}

function welcome(offset: number, events: number[] = [], reset = false): WelcomeFrame {
  return {
    type: "welcome",
    node: "a",
    board_id: "b",
    offset,
    state,
    events: events.map(event),
    reset,
  };
}

const eventFrame = (offset: number): EventFrame => ({ type: "event", ...event(offset) });

describe("OffsetTracker", () => {
  it("takes the state as it is on the first welcome", () => {
    const tracker = new OffsetTracker();
    expect(tracker.welcome(welcome(7))).toMatchObject({ reset: true, events: [] });
    expect(tracker.offset).toBe(7);
  });

  it("hands over exactly the missed events when resuming", () => {
    const tracker = new OffsetTracker();
    tracker.welcome(welcome(3));
    const resumed = tracker.welcome(welcome(6, [3, 4, 5, 6]));
    expect(resumed.reset).toBe(false);
    expect(resumed.events.map((e) => e.offset)).toEqual([4, 5, 6]);
    expect(tracker.offset).toBe(6);
  });

  it("falls back to the state when the missed events do not join up", () => {
    const tracker = new OffsetTracker();
    tracker.welcome(welcome(3));
    expect(tracker.welcome(welcome(6, [5, 6]))).toMatchObject({ reset: true, events: [] });
    expect(tracker.offset).toBe(6);
  });

  it("takes the state when the node says its history is gone", () => {
    const tracker = new OffsetTracker();
    tracker.welcome(welcome(3));
    expect(tracker.welcome(welcome(900, [], true)).reset).toBe(true);
  });

  it("applies the next event, drops duplicates and reports gaps", () => {
    const tracker = new OffsetTracker();
    tracker.welcome(welcome(3));
    expect(tracker.event(eventFrame(4))).toBe("apply");
    expect(tracker.event(eventFrame(4))).toBe("duplicate");
    expect(tracker.event(eventFrame(2))).toBe("duplicate");
    expect(tracker.event(eventFrame(6))).toBe("gap");
    expect(tracker.offset).toBe(4);
  });
});
