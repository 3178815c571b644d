import { afterEach, describe, expect, it } from "vitest";

import { setLanguage } from "../i18n";
import { ApiError, Unreachable } from "../net";
import { isConflict, saveFailure, uploadFailure } from "./messages";

afterEach(() => setLanguage("en"));

describe("what a teacher reads when something fails", () => {
  it("names the file that is too large or of a kind no slide shows", () => {
    expect(uploadFailure(new ApiError(413, "too_large", "x"), "film.mp4")).toBe(
      "film.mp4 is too large to upload.",
    );
    expect(uploadFailure(new ApiError(415, "unsupported_media_type", "x"), "notes.docx")).toBe(
      "notes.docx is not an image, PDF, video or audio file.",
    );
  });

  it("gives the node's reason for other failures", () => {
    expect(uploadFailure(new ApiError(403, "forbidden", "not a teacher"), "a.png")).toBe(
      "Something went wrong: not a teacher",
    );
  });

  it("shows the slide and field a refused save names", () => {
    expect(
      saveFailure(new ApiError(400, "invalid_request", "slide 2: url: an http(s) address")),
    ).toBe("Not saved: slide 2: url: an http(s) address");
  });

  it("says calmly that no server answers, in the teacher's language", () => {
    setLanguage("nl");
    expect(saveFailure(new Unreachable(0))).toBe(
      "Geen boardcast-server bereikbaar. Zo meteen opnieuw.",
    );
  });

  it("tells a conflict from other refusals", () => {
    expect(isConflict(new ApiError(409, "conflict", "changed"))).toBe(true);
    expect(isConflict(new ApiError(400, "invalid_request", "bad"))).toBe(false);
  });
});
