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

/**
 * Keeps the lesson open on a board loaded, for the board and its controllers alike: fetched
 * when the board opens another one or when told to (it was edited, another node answers
 * now), retried while the nodes cannot be reached; a fetch no longer wanted is cancelled.
 */
export class OpenLesson {
  private load: AbortController | null = null;

  constructor(
    private readonly api: Api,
    private readonly events: {
      /** The lesson to show now (null: none is open). */
      loaded(lesson: LoadedLesson | null): void;
      /** The node refused it for good (deleted, or not readable by this caller). */
      refused(): void;
    },
  ) {}

  /** `wanted` is the board's lesson id, `current` the lesson at hand. */
  follow(wanted: string | null, current: LoadedLesson | null, again: boolean): void {
    if (wanted === null) {
      this.stop();
      if (current) this.events.loaded(null);
      return;
    }
    if (!again && current?.id === wanted) return;
    this.stop();
    const load = new AbortController();
    this.load = load;
    this.api
      .retrying(() => fetchLesson(this.api, wanted, load.signal), load.signal)
      .then((lesson) => !load.signal.aborted && this.events.loaded(lesson))
      .catch(() => !load.signal.aborted && this.events.refused());
  }

  stop(): void {
    this.load?.abort();
  }
}
