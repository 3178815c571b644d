import { describe, expect, it } from "vitest";
import { isRetryableError, parseServerFrame } from "./protocol";

const state = { lesson_id: null, slide: 0, blank: false, timer_ends_at: null };
const event = {
  offset: 4,
  id: "6f1c1a9e-9a43-4c59-9f0c-111111111111",
  action: { kind: "goto", slide: 2 },
  by: "Ms. Jansen",
  at: "2024-09-02T08:30:00Z",
};

describe("parseServerFrame", () => {
  it("reads every server frame as docs/api.md writes it", () => {
    const frames = [
      {
        type: "welcome",
        node: "a",
        board_id: "b",
        offset: 4,
        state,
        events: [event],
        reset: false,
      },
      { type: "ack", id: event.id, offset: 4 },
      { type: "event", ...event },
      { type: "error", id: event.id, error: "slide_out_of_range", message: "No such slide." },
      { type: "error", error: "invalid_frame", message: "Not a frame." },
      { type: "pong" },
      { type: "pointer", x: 0.25, y: 1 },
      { type: "pointer", hidden: true },
      { type: "code", code: "123456", expires_at: "2024-09-02T08:40:00Z" },
      { type: "presence", board_online: true, controllers: 2 },
      { type: "paired", pairing_id: "p", by: "Ms. Jansen" },
      { type: "lesson_updated", lesson_id: "l", version: 3 },
      { type: "shown", offset: 4, at: "2024-09-02T08:30:01Z" },
    ];
    for (const frame of frames) {
      expect(parseServerFrame(JSON.stringify(frame))).toEqual(frame);
    }
  });

  it("reads every action kind inside events", () => {
    const actions = [
      { kind: "open_lesson", lesson_id: "l" },
      { kind: "open_lesson", lesson_id: "l", slide: 3 },
      { kind: "goto", slide: 0 },
      { kind: "next" },
      { kind: "prev" },
      { kind: "blank", on: true },
      { kind: "timer", seconds: 300 },
      { kind: "timer", seconds: null },
      { kind: "clear" },
    ];
    for (const action of actions) {
      const text = JSON.stringify({ type: "event", ...event, action });
      expect(parseServerFrame(text), JSON.stringify(action)).not.toBeNull();
    }
  });

  it("drops malformed frames instead of throwing", () => {
    const bad = [
      "",
      "not json",
      "null",
      "[]",
      '"pong"',
      "{}",
      '{"type":"dance"}',
      '{"type":"toString"}',
      '{"type":"ack","id":"x"}',
      '{"type":"ack","id":"x","offset":-1}',
      '{"type":"ack","id":"x","offset":1.5}',
      '{"type":"event","offset":1,"id":"x","action":{"kind":"fly"},"by":"a","at":"t"}',
      '{"type":"event","offset":1,"id":"x","action":{"kind":"goto"},"by":"a","at":"t"}',
      '{"type":"welcome","node":"a","board_id":"b","offset":0,"state":{},"events":[],"reset":false}',
      '{"type":"pointer","x":2,"y":0}',
      '{"type":"presence","board_online":"yes","controllers":1}',
    ];
    for (const text of bad) {
      expect(parseServerFrame(text), text).toBeNull();
    }
  });
});

describe("error codes", () => {
  it("only unavailable and internal_error allow sending the command again", () => {
    expect(isRetryableError("unavailable")).toBe(true);
    expect(isRetryableError("internal_error")).toBe(true);
    for (const code of ["invalid_action", "slide_out_of_range", "forbidden", "rate_limited"]) {
      expect(isRetryableError(code)).toBe(false);
    }
  });
});
