import { describe, expect, it } from "vitest";

import {
  addLinkSlide,
  addTextSlide,
  addUpload,
  deleteSlide,
  editSlide,
  firstLine,
  fromLesson,
  mediaKindOf,
  moveSlide,
  newDraft,
  refusedSlide,
  nextSlideKey,
  normalizeUrl,
  saveRequest,
  savedAs,
  setPage,
  setTitle,
  type Draft,
  type Lesson,
  type Upload,
} from "./draft";

const resolve = (path: string) => `https://api1.school.example${path}`;

function upload(contentType: string, id = "u1"): Upload {
  return {
    id,
    sha256: "ab12",
    size: 10,
    content_type: contentType,
    filename: "file",
    url: `/media/ab12?exp=1&sig=x`,
  };
}

function texts(draft: Draft): (string | undefined)[] {
  return draft.slides.map((slide) => slide.text);
}

function threeTextSlides(): Draft {
  let draft = newDraft();
  for (const text of ["one", "two", "three"]) {
    draft = addTextSlide(draft);
    const key = draft.slides[draft.slides.length - 1]?.key ?? "";
    draft = editSlide(draft, key, { text });
  }
  return draft;
}

const saved: Lesson = {
  id: "l1",
  title: "Maps",
  version: 3,
  slides: [
    {
      id: "a",
      kind: "image",
      upload_id: "u1",
      media_url: "/media/ab12?exp=1&sig=x",
      notes: "Ask about rivers",
    },
    { id: "b", kind: "pdf", upload_id: "u2", page: 4, media_url: "/media/cd34?exp=1&sig=y" },
    { id: "c", kind: "text", text: "Questions?" },
  ],
};

describe("a new draft", () => {
  it("is empty and has nothing to save yet", () => {
    const draft = newDraft();
    expect(draft).toMatchObject({ id: null, version: null, title: "", slides: [], dirty: false });
  });
});

describe("slides from uploads", () => {
  it("makes the slide kind from the upload's content type", () => {
    expect(mediaKindOf("image/png")).toBe("image");
    expect(mediaKindOf("application/pdf")).toBe("pdf");
    expect(mediaKindOf("video/mp4")).toBe("video");
    expect(mediaKindOf("audio/mpeg")).toBe("video");
    expect(mediaKindOf("text/html")).toBeNull();
  });

  it("gives a PDF of N pages N slides, one per page from 1", () => {
    const draft = addUpload(newDraft(), upload("application/pdf"), "https://x/m", 4);
    expect(draft.slides.map((s) => [s.kind, s.page, s.uploadId])).toEqual([
      ["pdf", 1, "u1"],
      ["pdf", 2, "u1"],
      ["pdf", 3, "u1"],
      ["pdf", 4, "u1"],
    ]);
    expect(new Set(draft.slides.map((s) => s.key)).size).toBe(4);
  });

  it("gives any other upload one slide showing it", () => {
    const draft = addUpload(newDraft(), upload("image/jpeg"), "https://x/m");
    expect(draft.slides).toHaveLength(1);
    expect(draft.slides[0]).toMatchObject({
      kind: "image",
      uploadId: "u1",
      mediaUrl: "https://x/m",
    });
  });

  it("ignores an upload no slide can show", () => {
    const draft = newDraft();
    expect(addUpload(draft, upload("text/html"), "https://x/m")).toBe(draft);
  });

  it("appends after the slides already there", () => {
    let draft = addTextSlide(newDraft());
    draft = addUpload(draft, upload("video/webm"), "https://x/m");
    expect(draft.slides.map((s) => s.kind)).toEqual(["text", "video"]);
  });
});

describe("order", () => {
  it("moves a slide up and down, one place at a time", () => {
    let draft = threeTextSlides();
    const third = draft.slides[2]?.key ?? "";
    draft = moveSlide(draft, third, -1);
    expect(texts(draft)).toEqual(["one", "three", "two"]);
    draft = moveSlide(draft, third, -1);
    expect(texts(draft)).toEqual(["three", "one", "two"]);
    draft = moveSlide(draft, third, 1);
    expect(texts(draft)).toEqual(["one", "three", "two"]);
  });

  it("leaves the order alone when moving past either end", () => {
    const draft = threeTextSlides();
    expect(moveSlide(draft, draft.slides[0]?.key ?? "", -1)).toBe(draft);
    expect(moveSlide(draft, draft.slides[2]?.key ?? "", 1)).toBe(draft);
  });

  it("saves slides in the order shown", () => {
    let draft = threeTextSlides();
    draft = moveSlide(draft, draft.slides[0]?.key ?? "", 1);
    expect(saveRequest(draft).input.slides.map((s) => s.text)).toEqual(["two", "one", "three"]);
  });

  it("deletes only the slide asked for", () => {
    const draft = threeTextSlides();
    expect(texts(deleteSlide(draft, draft.slides[1]?.key ?? ""))).toEqual(["one", "three"]);
  });
});

describe("what a save sends", () => {
  it("sends notes only when they are not blank", () => {
    let draft = threeTextSlides();
    draft = editSlide(draft, draft.slides[0]?.key ?? "", { notes: "Wait for quiet" });
    draft = editSlide(draft, draft.slides[1]?.key ?? "", { notes: "  \n " });
    const slides = saveRequest(draft).input.slides;
    expect(slides[0]?.notes).toBe("Wait for quiet");
    expect(slides[1]).not.toHaveProperty("notes");
    expect(slides[2]).not.toHaveProperty("notes");
  });

  it("never sends media_url, and ids only for slides that have one", () => {
    let draft = fromLesson(saved, resolve);
    draft = addUpload(draft, upload("image/png", "u9"), "https://x/m");
    const slides = saveRequest(draft).input.slides;
    expect(JSON.stringify(slides)).not.toContain("media_url");
    expect(slides.map((s) => s.id)).toEqual(["a", "b", "c", undefined]);
    expect(slides[3]).not.toHaveProperty("id");
  });

  it("sends each kind with its own fields only", () => {
    let draft = fromLesson(saved, resolve);
    draft = addLinkSlide(draft);
    draft = editSlide(draft, draft.slides[3]?.key ?? "", { url: "example.org/map" });
    expect(saveRequest(draft).input).toEqual({
      title: "Maps",
      slides: [
        { id: "a", kind: "image", upload_id: "u1", notes: "Ask about rivers" },
        { id: "b", kind: "pdf", upload_id: "u2", page: 4 },
        { id: "c", kind: "text", text: "Questions?" },
        { kind: "link", url: "https://example.org/map" },
      ],
    });
  });

  it("sends the title without surrounding spaces", () => {
    expect(saveRequest(setTitle(newDraft(), "  Rivers ")).input.title).toBe("Rivers");
  });
});

describe("PDF pages", () => {
  it("picks another page within the document", () => {
    let draft = addUpload(newDraft(), upload("application/pdf"), "https://x/m", 3);
    const key = draft.slides[0]?.key ?? "";
    draft = setPage(draft, key, 3);
    expect(draft.slides[0]?.page).toBe(3);
    expect(setPage(draft, key, 4)).toBe(draft);
    expect(setPage(draft, key, 0)).toBe(draft);
    expect(setPage(draft, key, Number.NaN)).toBe(draft);
  });
});

describe("dirty tracking", () => {
  it("a loaded lesson is clean until edited", () => {
    const draft = fromLesson(saved, resolve);
    expect(draft.dirty).toBe(false);
    expect(setTitle(draft, "Maps").dirty).toBe(false);
    expect(setTitle(draft, "Rivers").dirty).toBe(true);
  });

  it("every kind of edit makes the draft dirty", () => {
    const draft = fromLesson(saved, resolve);
    const key = draft.slides[2]?.key ?? "";
    expect(addTextSlide(draft).dirty).toBe(true);
    expect(addUpload(draft, upload("image/png"), "u").dirty).toBe(true);
    expect(moveSlide(draft, key, -1).dirty).toBe(true);
    expect(deleteSlide(draft, key).dirty).toBe(true);
    expect(editSlide(draft, key, { notes: "x" }).dirty).toBe(true);
    expect(setPage(draft, draft.slides[1]?.key ?? "", 2).dirty).toBe(true);
  });

  it("an edit that changes nothing keeps the draft clean", () => {
    const draft = fromLesson(saved, resolve);
    expect(editSlide(draft, draft.slides[2]?.key ?? "", { text: "Questions?" })).toBe(draft);
  });

  it("a save answered with no edits since makes it clean, with the node's ids and version", () => {
    const draft = addTextSlide(setTitle(newDraft(), " Maps "));
    const key = draft.slides[0]?.key;
    const request = saveRequest(draft);
    const answer: Lesson = {
      id: "l7",
      title: "Maps",
      version: 1,
      slides: [{ id: "n1", kind: "text", text: "" }],
    };
    const after = savedAs(draft, request, answer, resolve);
    expect(after).toMatchObject({ id: "l7", version: 1, title: "Maps", dirty: false });
    expect(after.slides[0]).toMatchObject({ key, id: "n1" });
  });

  it("edits made while a save ran stay, and keep the draft dirty", () => {
    let draft = threeTextSlides();
    const request = saveRequest(draft);
    draft = moveSlide(setTitle(draft, "Later"), draft.slides[2]?.key ?? "", -1);
    const answer: Lesson = {
      id: "l7",
      title: "",
      version: 2,
      slides: ["x", "y", "z"].map((id, i) => ({ id, kind: "text", text: texts(draft)[i] })),
    };
    const after = savedAs(draft, request, answer, resolve);
    expect(after).toMatchObject({ id: "l7", version: 2, title: "Later", dirty: true });
    expect(after.slides.map((s) => [s.text, s.id])).toEqual([
      ["one", "x"],
      ["three", "z"],
      ["two", "y"],
    ]);
  });

  it("keeps a PDF's known page count through a save", () => {
    const draft = addUpload(newDraft(), upload("application/pdf"), "u", 2);
    const request = saveRequest(draft);
    const answer: Lesson = {
      id: "l1",
      title: "",
      version: 1,
      slides: [
        { id: "p1", kind: "pdf", upload_id: "u1", page: 1, media_url: "/media/new" },
        { id: "p2", kind: "pdf", upload_id: "u1", page: 2, media_url: "/media/new" },
      ],
    };
    const after = savedAs(draft, request, answer, resolve);
    expect(after.slides.map((s) => [s.pages, s.mediaUrl])).toEqual([
      [2, "https://api1.school.example/media/new"],
      [2, "https://api1.school.example/media/new"],
    ]);
  });
});

describe("reading a lesson", () => {
  it("resolves media paths against the host that answered and keeps notes", () => {
    const draft = fromLesson(saved, resolve);
    expect(draft.slides[0]).toMatchObject({
      mediaUrl: "https://api1.school.example/media/ab12?exp=1&sig=x",
      notes: "Ask about rivers",
    });
    expect(draft.slides[2]?.notes).toBe("");
    expect(draft.slides.map((s) => s.key)).not.toContain(nextSlideKey(draft));
  });
});

describe("small helpers", () => {
  it("previews a text slide by its first line", () => {
    expect(firstLine("\n  Rivers of Europe \nRhine")).toBe("Rivers of Europe");
    expect(firstLine(undefined)).toBe("");
  });

  it("adds https to an address typed without one", () => {
    expect(normalizeUrl(" example.org ")).toBe("https://example.org");
    expect(normalizeUrl("http://example.org")).toBe("http://example.org");
    expect(normalizeUrl("")).toBe("");
  });

  it("finds the slide a refusal names", () => {
    const request = saveRequest(threeTextSlides());
    expect(refusedSlide(request, "slide 3: text: 1 to 10000 characters")).toBe(request.keys[2]);
    expect(refusedSlide(request, "slide 9: text: 1 to 10000 characters")).toBeNull();
    expect(refusedSlide(request, "title: 1 to 200 characters")).toBeNull();
  });
});
