// The teacher's lessons by title (as the controller offers them) and the way to start a new
// one. Picking a lesson is a button press; the lesson open is marked for screen readers too.

import { t } from "../i18n";
import type { LessonSummary } from "./useLessonList";

interface Props {
  lessons: LessonSummary[] | null;
  error: string | null;
  openId: string | null;
  onOpen: (id: string) => void;
  onNew: () => void;
}

export function LessonList({ lessons, error, openId, onOpen, onNew }: Props) {
  return (
    <section class="card lesson-list" aria-labelledby="lesson-list-heading">
      <div class="lesson-list-head">
        <h2 id="lesson-list-heading">{t("lessons")}</h2>
        <button type="button" class="primary" onClick={onNew}>
          {t("newLesson")}
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {lessons === null && !error && <p class="muted">{t("loading")}</p>}
      {lessons?.length === 0 && <p class="muted">{t("noLessons")}</p>}
      {lessons && lessons.length > 0 && (
        <ul class="lesson-links">
          {lessons.map((lesson) => (
            <li key={lesson.id}>
              <button
                type="button"
                class="lesson-link"
                aria-current={lesson.id === openId ? "true" : undefined}
                onClick={() => onOpen(lesson.id)}
              >
                {lesson.title || t("untitled")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
