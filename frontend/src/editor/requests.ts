// The editor's calls to the nodes, each retried through bad wifi with one Idempotency-Key
// for all its attempts, so a save whose answer was lost is never applied twice. Paths,
// headers and bodies follow docs/api.md's "Lessons" and "Uploads and media".

import type { Api, ApiResponse } from "../net";
import type { Lesson, LessonInput, Upload } from "./draft";

/** Told before each wait between attempts, to say when the next one comes. */
export type OnRetry = (error: unknown, delayMs: number) => void;

interface Call {
  signal?: AbortSignal;
  onRetry?: OnRetry;
}

function lessonPath(id: string): string {
  return `/api/lessons/${encodeURIComponent(id)}`;
}

/** The version as `If-Match` names it: the lesson's `ETag`, `"<version>"`. */
function ifMatch(version: number): Record<string, string> {
  return { "If-Match": `"${version}"` };
}

/** The teacher's own lessons, newest first. */
export async function fetchLessons(api: Api, { signal, onRetry }: Call = {}): Promise<Lesson[]> {
  const answer = await api.retrying(
    () => api.get<Lesson[]>("/api/lessons", { signal }),
    signal,
    onRetry,
  );
  return answer.data;
}

/** One lesson, with the host that answered (its media paths resolve against it). */
export function fetchLesson(
  api: Api,
  id: string,
  { signal, onRetry }: Call = {},
): Promise<ApiResponse<Lesson>> {
  return api.retrying(() => api.get<Lesson>(lessonPath(id), { signal }), signal, onRetry);
}

/**
 * Saves a lesson: a new one (`id` null) with POST, an existing one with PUT naming the
 * `version` edited, which the node refuses with 409 if someone saved meanwhile.
 */
export function storeLesson(
  api: Api,
  lesson: { id: string | null; version: number | null },
  input: LessonInput,
  { signal, onRetry }: Call = {},
): Promise<ApiResponse<Lesson>> {
  const idempotencyKey = api.idempotencyKey();
  const body = { json: input };
  const { id, version } = lesson;
  return api.retrying(
    () =>
      id === null
        ? api.post<Lesson>("/api/lessons", body, { signal, idempotencyKey })
        : api.put<Lesson>(lessonPath(id), body, {
            signal,
            idempotencyKey,
            headers: version === null ? {} : ifMatch(version),
          }),
    signal,
    onRetry,
  );
}

/** Deletes a lesson, unless it changed since `version` (409). */
export async function removeLesson(
  api: Api,
  id: string,
  version: number | null,
  { signal, onRetry }: Call = {},
): Promise<void> {
  const idempotencyKey = api.idempotencyKey();
  const headers = version === null ? {} : ifMatch(version);
  await api.retrying(
    () => api.delete(lessonPath(id), { signal, idempotencyKey, headers }),
    signal,
    onRetry,
  );
}

/** Uploads one file as the teacher's media, reporting the bytes sent. */
export function uploadFile(
  api: Api,
  file: File,
  onProgress: (sent: number, total: number) => void,
  { signal, onRetry }: Call = {},
): Promise<ApiResponse<Upload>> {
  const idempotencyKey = api.idempotencyKey();
  const path = `/api/uploads?filename=${encodeURIComponent(file.name)}`;
  return api.retrying(
    () => api.upload<Upload>(path, file, { signal, idempotencyKey, onProgress }),
    signal,
    onRetry,
  );
}

/**
 * How many pages the PDF `file` has, read from the teacher's own copy (nothing is
 * downloaded again). pdf.js loads only now. When it cannot tell, the PDF counts as one page.
 */
export async function countPdfPages(file: Blob): Promise<number> {
  const url = URL.createObjectURL(file);
  try {
    const { openPdf } = await import("../ui/pdf");
    const pdf = await openPdf(url);
    pdf.close();
    return pdf.pages;
  } catch {
    return 1;
  } finally {
    URL.revokeObjectURL(url);
  }
}
