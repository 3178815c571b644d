import { describe, expect, it } from "vitest";

import { controllerHref, lessonIdIn, withLesson } from "./address";

describe("the editor's address", () => {
  it("links back to the controller in the language picked", () => {
    expect(controllerHref("/", "?lang=nl&lesson=l1")).toBe("/?lang=nl");
    expect(controllerHref("/", "?lesson=l1")).toBe("/");
  });

  it("names the open lesson and keeps the rest of the query", () => {
    expect(withLesson("?lang=nl", "l1")).toBe("?lang=nl&lesson=l1");
    expect(withLesson("?lang=nl&lesson=l1", null)).toBe("?lang=nl");
    expect(withLesson("?lesson=l1", null)).toBe("");
    expect(lessonIdIn("?lang=nl&lesson=l1")).toBe("l1");
    expect(lessonIdIn("?lesson=")).toBeNull();
  });
});
