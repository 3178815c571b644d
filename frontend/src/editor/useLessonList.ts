// The teacher's lessons for the list beside the editor: read once (retried through bad wifi),
// then kept up to date from the editor's own saves and deletes rather than read again.

import { useEffect, useState } from "preact/hooks";

import type { Api } from "../net";
import type { Lesson } from "./draft";
import { failure } from "./messages";
import { fetchLessons } from "./requests";

export interface LessonSummary {
  id: string;
  title: string;
}

export interface LessonList {
  /** null while the first answer is awaited. */
  lessons: LessonSummary[] | null;
  error: string | null;
  /** A lesson just saved: it is now the newest. */
  remember: (lesson: Lesson) => void;
  forget: (id: string) => void;
}

export function useLessonList(api: Api): LessonList {
  const [lessons, setLessons] = useState<LessonSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const stop = new AbortController();
    fetchLessons(api, {
      signal: stop.signal,
      onRetry: (reason) => setError(failure(reason)),
    })
      .then((found) => {
        setError(null);
        setLessons(found.map(({ id, title }) => ({ id, title })));
      })
      .catch((reason: unknown) => {
        if (!stop.signal.aborted) setError(failure(reason));
      });
    return () => stop.abort();
  }, [api]);

  return {
    lessons,
    error,
    remember: ({ id, title }) =>
      setLessons((list) => [{ id, title }, ...(list ?? []).filter((l) => l.id !== id)]),
    forget: (id) => setLessons((list) => list && list.filter((l) => l.id !== id)),
  };
}
