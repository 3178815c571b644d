// The logged-in editor page: the top bar (back to the controller, log out), the lesson list
// and the lesson open. Anything that would drop unsaved edits (another lesson, a new one,
// logging out) asks first, inside the page.

import { useEffect, useState } from "preact/hooks";

import { t } from "../i18n";
import type { Net } from "../net";
import type { Teacher } from "../ui/teacher";
import { controllerHref, lessonIdIn, withLesson } from "./address";
import { Confirm } from "./Confirm";
import { LessonEditor } from "./LessonEditor";
import { LessonList } from "./LessonList";
import { useEditor } from "./useEditor";
import { useLessonList } from "./useLessonList";

interface Pending {
  run: () => void;
  /** The control that asked, which gets the focus back if the teacher keeps editing. */
  returnTo: HTMLElement | null;
}

export function Workspace({ net, teacher }: { net: Net; teacher: Teacher }) {
  const list = useLessonList(net.api);
  const editor = useEditor(net.api, { onSaved: list.remember, onDeleted: list.forget });
  const [pending, setPending] = useState<Pending | null>(null);

  useEffect(() => {
    const id = lessonIdIn(location.search);
    if (id) editor.open(id);
  }, []);

  useEffect(() => {
    const query = withLesson(location.search, editor.lessonId);
    history.replaceState(history.state, "", `${location.pathname}${query}${location.hash}`);
  }, [editor.lessonId]);

  const guard = (run: () => void) => {
    if (!editor.hasUnsavedWork) return run();
    const active = document.activeElement;
    setPending({ run, returnTo: active instanceof HTMLElement ? active : null });
  };

  const me = teacher.state.kind === "logged_in" ? teacher.state.me : null;
  return (
    <div class="page editor-page">
      <header class="topbar">
        <h1>{t("editLessons")}</h1>
        <div class="editor-actions">
          {me && <span class="muted">{me.display_name}</span>}
          <a class="editor-back" href={controllerHref(import.meta.env.BASE_URL, location.search)}>
            {t("backToController")}
          </a>
          <button type="button" onClick={() => guard(() => void teacher.logout())}>
            {t("logOut")}
          </button>
        </div>
      </header>
      {pending && (
        <div class="card">
          <Confirm
            message={t("discardChanges")}
            yes={t("discard")}
            no={t("keepEditing")}
            onYes={() => {
              setPending(null);
              pending.run();
            }}
            onNo={() => {
              pending.returnTo?.focus();
              setPending(null);
            }}
          />
        </div>
      )}
      <main class="editor-layout">
        <LessonList
          lessons={list.lessons}
          error={list.error}
          openId={editor.lessonId}
          onOpen={(id) => guard(() => editor.open(id))}
          onNew={() => guard(editor.create)}
        />
        {editor.draft ? (
          <LessonEditor key={editor.session} editor={editor} draft={editor.draft} />
        ) : (
          <section class="card lesson-placeholder">
            {editor.loadError && <p class="error">{editor.loadError}</p>}
            <p class="status" role="status">
              {editor.loading
                ? t("loading") +
                  (editor.retryIn === null ? "" : ` ${t("retrying", { seconds: editor.retryIn })}`)
                : (editor.notice ?? "")}
            </p>
            {!editor.loading && <p class="muted">{t("pickLesson")}</p>}
          </section>
        )}
      </main>
    </div>
  );
}
