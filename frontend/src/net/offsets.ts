// The board's log offsets as one client has applied them. Events must be applied exactly
// once and in order, or a board and its teacher's phone disagree about the slide on screen:
// duplicates (a resumed socket, a second node's fan-out) are dropped, and a gap means the
// client must resync rather than apply what comes after it.

import type { EventFrame, WelcomeFrame } from "./protocol";

/** What to do with an incoming event. */
export type EventVerdict = "apply" | "duplicate" | "gap";

export class OffsetTracker {
  private last: number | null = null;

  /** The last offset applied, which the next `hello` resumes from; null before any state. */
  get offset(): number | null {
    return this.last;
  }

  /**
   * The welcome as a view should apply it: either `reset: true` (take `state` as it is,
   * as on the first welcome) or exactly the events after the last applied offset, in
   * order, leading to the welcome's offset.
   */
  welcome(frame: WelcomeFrame): WelcomeFrame {
    const last = this.last;
    this.last = frame.offset;
    if (last === null || frame.reset) return { ...frame, events: [], reset: true };
    const events = frame.events.filter((event) => event.offset > last);
    const joins = events.every((event, i) => event.offset === last + 1 + i);
    const reaches = last + events.length === frame.offset;
    return joins && reaches ? { ...frame, events } : { ...frame, events: [], reset: true };
  }

  /** Whether `frame` comes next; "apply" also counts it as applied. */
  event(frame: EventFrame): EventVerdict {
    if (this.last !== null && frame.offset <= this.last) return "duplicate";
    if (this.last === null || frame.offset !== this.last + 1) return "gap";
    this.last = frame.offset;
    return "apply";
  }
}
