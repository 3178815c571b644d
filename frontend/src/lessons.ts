// Lessons as the API gives them, shared by the board (which shows them) and the controller
// (which steers through them and shows the speaker notes).

import type { Api } from "./net";

export type SlideKind = "image" | "pdf" | "video" | "text" | "link";

export interface Slide {
  id: string;
  kind: SlideKind;
  upload_id?: string;
  page?: number;
  text?: string;
  url?: string;
  notes?: string;
  /** A signed path (`/media/...`) on any node; see `LoadedLesson.media`. */
  media_url?: string;
}

export interface Lesson {
  id: string;
  title: string;
  version: number;
  slides: Slide[];
}

/** A lesson with its media URLs made absolute against the node that answered. */
export interface LoadedLesson extends Lesson {
  /** Absolute media URL per slide id. */
  media: Record<string, string>;
}

export function withMedia(lesson: Lesson, api: Api, host: string): LoadedLesson {
  const media: Record<string, string> = {};
  for (const slide of lesson.slides) {
    if (slide.media_url) media[slide.id] = api.resolve(slide.media_url, host);
  }
  return { ...lesson, media };
}

export async function fetchLesson(api: Api, id: string, signal?: AbortSignal) {
  const { data, host } = await api.get<Lesson>(`/api/lessons/${encodeURIComponent(id)}`, {
    signal,
  });
  return withMedia(data, api, host);
}

/** What a slide shows, in a few words (slide strips, "up next"). */
export function slideSummary(slide: Slide, pageLabel: (page: number) => string): string {
  switch (slide.kind) {
    case "text":
      return (slide.text ?? "").split("\n")[0] ?? "";
    case "link":
      return slide.url ?? "";
    case "pdf":
      return pageLabel(slide.page ?? 1);
    default:
      return slide.kind;
  }
}
