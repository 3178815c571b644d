// The lesson a teacher is editing, as plain data and pure functions: adding slides from
// uploads, moving, deleting and editing them, and turning the result into the body of a
// save. Keeping it free of the DOM and the network is what lets the behaviour a teacher
// relies on (order after moves, one slide per PDF page, notes that stay private) be tested.

import type { Lesson, Slide as LessonSlide, SlideKind } from "../lessons";

export type { Lesson, LessonSlide, SlideKind };
export type MediaKind = "image" | "pdf" | "video";

/** The answer of `POST /api/uploads`. */
export interface Upload {
  id: string;
  sha256: string;
  size: number;
  content_type: string;
  filename: string;
  url: string;
}

/** A slide as it is sent: the node assigns ids to new slides and never takes `media_url`. */
export interface SlideInput {
  id?: string;
  kind: SlideKind;
  upload_id?: string;
  page?: number;
  text?: string;
  url?: string;
  notes?: string;
}

/** The body of `POST /api/lessons` and `PUT /api/lessons/{id}`. */
export interface LessonInput {
  title: string;
  slides: SlideInput[];
}

export interface DraftSlide {
  /** Stable across moves and saves, for the view only; never sent. */
  key: string;
  /** The node's id, once the slide has been saved. */
  id?: string;
  kind: SlideKind;
  uploadId?: string;
  /** The PDF page shown, from 1. */
  page?: number;
  /** How many pages the PDF has, when known (counted at upload). */
  pages?: number;
  text?: string;
  url?: string;
  notes: string;
  /** Absolute URL for the preview (resolved against the host that answered). */
  mediaUrl?: string;
}

export interface Draft {
  /** null until the first save. */
  id: string | null;
  /** The version this draft was read or last saved as: the next PUT's If-Match. */
  version: number | null;
  title: string;
  slides: DraftSlide[];
  /** Whether there are edits the node has not got yet. */
  dirty: boolean;
  /** Counts edits, so a save can tell whether more came in while it ran. */
  revision: number;
  nextKey: number;
}

/** What one save sent, to match its answer with the draft as it is when the answer comes. */
export interface SaveRequest {
  input: LessonInput;
  revision: number;
  /** The keys of the slides sent, in the order sent. */
  keys: string[];
}

/** Turns a media path of the API into an absolute URL. */
export type Resolve = (path: string) => string;

export function newDraft(): Draft {
  return { id: null, version: null, title: "", slides: [], dirty: false, revision: 0, nextKey: 1 };
}

/** A saved lesson as a clean draft. */
export function fromLesson(lesson: Lesson, resolve: Resolve): Draft {
  const slides = lesson.slides.map((slide, index) => slideFrom(slide, `s${index + 1}`, resolve));
  return {
    id: lesson.id,
    version: lesson.version,
    title: lesson.title,
    slides,
    dirty: false,
    revision: 0,
    nextKey: slides.length + 1,
  };
}

function slideFrom(slide: LessonSlide, key: string, resolve: Resolve): DraftSlide {
  return {
    key,
    id: slide.id,
    kind: slide.kind,
    uploadId: slide.upload_id,
    page: slide.kind === "pdf" ? (slide.page ?? 1) : undefined,
    text: slide.text,
    url: slide.url,
    notes: slide.notes ?? "",
    mediaUrl: slide.media_url ? resolve(slide.media_url) : undefined,
  };
}

/** The slide kind an upload's content type makes, or null when no slide can show it. */
export function mediaKindOf(contentType: string): MediaKind | null {
  const type = contentType.toLowerCase();
  if (type.startsWith("image/")) return "image";
  if (type === "application/pdf") return "pdf";
  if (type.startsWith("video/") || type.startsWith("audio/")) return "video";
  return null;
}

function edited(draft: Draft, changes: Partial<Draft>): Draft {
  return { ...draft, ...changes, dirty: true, revision: draft.revision + 1 };
}

function appended(draft: Draft, slides: Omit<DraftSlide, "key">[]): Draft {
  const added = slides.map((slide, index) => ({ ...slide, key: `s${draft.nextKey + index}` }));
  return edited(draft, {
    slides: [...draft.slides, ...added],
    nextKey: draft.nextKey + added.length,
  });
}

/** The key the next added slide will get (to focus it once it is shown). */
export function nextSlideKey(draft: Draft): string {
  return `s${draft.nextKey}`;
}

export function setTitle(draft: Draft, title: string): Draft {
  return title === draft.title ? draft : edited(draft, { title });
}

export function addTextSlide(draft: Draft): Draft {
  return appended(draft, [{ kind: "text", text: "", notes: "" }]);
}

export function addLinkSlide(draft: Draft): Draft {
  return appended(draft, [{ kind: "link", url: "", notes: "" }]);
}

/**
 * Adds the slides an upload makes: one per page of a PDF of `pages` pages (all of them; the
 * teacher deletes those they do not want), one for anything else. An upload no slide can
 * show leaves the draft as it was.
 */
export function addUpload(draft: Draft, upload: Upload, mediaUrl: string, pages = 1): Draft {
  const kind = mediaKindOf(upload.content_type);
  if (kind === null) return draft;
  const base = { kind, uploadId: upload.id, notes: "", mediaUrl };
  if (kind !== "pdf") return appended(draft, [base]);
  const count = Math.max(1, Math.floor(pages));
  const slides = Array.from({ length: count }, (_, index) => ({
    ...base,
    page: index + 1,
    pages: count,
  }));
  return appended(draft, slides);
}

/** Moves a slide one place up (-1) or down (+1); at either end nothing changes. */
export function moveSlide(draft: Draft, key: string, step: -1 | 1): Draft {
  const from = draft.slides.findIndex((slide) => slide.key === key);
  const to = from + step;
  if (from < 0 || to < 0 || to >= draft.slides.length) return draft;
  const slides = [...draft.slides];
  const [moved] = slides.splice(from, 1);
  if (!moved) return draft;
  slides.splice(to, 0, moved);
  return edited(draft, { slides });
}

export function deleteSlide(draft: Draft, key: string): Draft {
  const slides = draft.slides.filter((slide) => slide.key !== key);
  return slides.length === draft.slides.length ? draft : edited(draft, { slides });
}

export type SlidePatch = Partial<Pick<DraftSlide, "text" | "url" | "notes">>;

/** Changes a slide's text, link address or notes. */
export function editSlide(draft: Draft, key: string, patch: SlidePatch): Draft {
  const slide = draft.slides.find((s) => s.key === key);
  if (
    !slide ||
    Object.entries(patch).every(([field, value]) => slide[field as keyof DraftSlide] === value)
  )
    return draft;
  return edited(draft, {
    slides: draft.slides.map((s) => (s.key === key ? { ...s, ...patch } : s)),
  });
}

/**
 * Shows another page of a PDF slide. Pages count from 1 and stop at the document's last
 * page when it is known; anything else (a half-typed number) is ignored.
 */
export function setPage(draft: Draft, key: string, page: number): Draft {
  const slide = draft.slides.find((s) => s.key === key);
  if (!slide || slide.kind !== "pdf" || !Number.isInteger(page) || page < 1) return draft;
  if (slide.pages !== undefined && page > slide.pages) return draft;
  if (slide.page === page) return draft;
  return edited(draft, {
    slides: draft.slides.map((s) => (s.key === key ? { ...s, page } : s)),
  });
}

/** A link as typed, made into an address a board can open (`example.org` → `https://...`). */
export function normalizeUrl(typed: string): string {
  const url = typed.trim();
  if (url === "" || /^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  return `https://${url.replace(/^\/+/, "")}`;
}

/** The slide as the API takes it: its id if it has one, the kind's own fields, notes if any. */
export function slideInput(slide: DraftSlide): SlideInput {
  const input: SlideInput = { kind: slide.kind };
  if (slide.id !== undefined) input.id = slide.id;
  switch (slide.kind) {
    case "image":
    case "video":
      input.upload_id = slide.uploadId;
      break;
    case "pdf":
      input.upload_id = slide.uploadId;
      input.page = slide.page ?? 1;
      break;
    case "text":
      input.text = slide.text ?? "";
      break;
    case "link":
      input.url = normalizeUrl(slide.url ?? "");
      break;
  }
  if (slide.notes.trim() !== "") input.notes = slide.notes;
  return input;
}

/** What to send to save the draft now. */
export function saveRequest(draft: Draft): SaveRequest {
  return {
    input: { title: draft.title.trim(), slides: draft.slides.map(slideInput) },
    revision: draft.revision,
    keys: draft.slides.map((slide) => slide.key),
  };
}

/**
 * The draft after the node accepted `request` with `lesson`: it takes the lesson's id,
 * version and slide ids (and fresh media URLs). Edits made while the save ran are kept and
 * leave the draft dirty; without any, the draft is clean and shows what the node stored.
 */
export function savedAs(
  draft: Draft,
  request: SaveRequest,
  lesson: Lesson,
  resolve: Resolve,
): Draft {
  const sent = new Map(request.keys.map((key, index) => [key, lesson.slides[index]]));
  const unchanged = draft.revision === request.revision;
  const slides = draft.slides.map((slide) => {
    const stored = sent.get(slide.key);
    if (!stored) return slide;
    const mediaUrl = stored.media_url ? resolve(stored.media_url) : slide.mediaUrl;
    return unchanged
      ? { ...slideFrom(stored, slide.key, resolve), pages: slide.pages, mediaUrl }
      : { ...slide, id: stored.id, mediaUrl };
  });
  return {
    ...draft,
    id: lesson.id,
    version: lesson.version,
    title: unchanged ? lesson.title : draft.title,
    slides,
    dirty: !unchanged,
  };
}

/** The first line of a text slide, for its preview. */
export function firstLine(text: string | undefined): string {
  return (text ?? "").trim().split("\n", 1)[0]?.trim() ?? "";
}

/**
 * The slide a 400 answer to `request` names (`slide 3: text: ...`, counting from 1 in the
 * order sent), by key, so the editor can take the teacher there even after later moves;
 * null when the message names none.
 */
export function refusedSlide(request: SaveRequest, message: string): string | null {
  const match = /^slide (\d+):/i.exec(message.trim());
  return match ? (request.keys[Number(match[1]) - 1] ?? null) : null;
}
