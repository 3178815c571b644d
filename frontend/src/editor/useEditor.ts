// The lesson being edited and everything that talks to the nodes about it: reading, saving
// (never over someone else's newer version), deleting and adding uploaded media. Each opened
// lesson is a session: opening another aborts what the previous one still had running,
// so a late answer never lands in the wrong lesson.

import { useEffect, useRef, useState } from "preact/hooks";

import { t } from "../i18n";
import { ApiError, type Api } from "../net";
import {
  addUpload,
  fromLesson,
  newDraft,
  refusedSlide,
  saveRequest,
  savedAs,
  type Draft,
  type Lesson,
} from "./draft";
import { failure, isConflict, saveFailure } from "./messages";
import { fetchLesson, removeLesson, storeLesson, type OnRetry } from "./requests";
import { useUploads, type UploadJob } from "./useUploads";

export interface Editor {
  draft: Draft | null;
  /** The lesson being read or shown. */
  lessonId: string | null;
  loading: boolean;
  loadError: string | null;
  saving: boolean;
  deleting: boolean;
  saveError: string | null;
  /** The key of the slide a refused save named. */
  invalidSlide: string | null;
  /** The last save was refused for want of a title. */
  titleMissing: boolean;
  /** Counts refused saves, so the view can take the teacher to the problem each time. */
  refusals: number;
  /** Counts the lessons opened (a new one remounts the view). */
  session: number;
  /** Counts the times a lesson was read from the node (opened or reloaded). */
  loads: number;
  /** Someone saved this lesson elsewhere since it was read. */
  conflict: boolean;
  /** Seconds until a read, save or delete is tried again. */
  retryIn: number | null;
  notice: string | null;
  uploads: UploadJob[];
  /** Edits or uploads that would be lost by leaving. */
  hasUnsavedWork: boolean;
  change: (edit: (draft: Draft) => Draft) => void;
  create: () => void;
  open: (id: string) => void;
  /** Drops the edits and reads the version saved elsewhere. */
  reload: () => void;
  save: () => void;
  remove: () => void;
  addFiles: (files: File[]) => void;
  dismissUpload: (key: string) => void;
}

interface Session {
  abort: AbortController;
}

interface Hooks {
  onSaved: (lesson: Lesson) => void;
  onDeleted: (id: string) => void;
}

export function useEditor(api: Api, hooks: Hooks): Editor {
  const [draft, setDraft] = useState<Draft | null>(null);
  const [lessonId, setLessonId] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [invalidSlide, setInvalidSlide] = useState<string | null>(null);
  const [titleMissing, setTitleMissing] = useState(false);
  const [refusals, setRefusals] = useState(0);
  const [sessionCount, setSessionCount] = useState(0);
  const [loads, setLoads] = useState(0);
  const [conflict, setConflict] = useState(false);
  const [retryIn, setRetryIn] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const uploads = useUploads(api);
  const session = useRef<Session>({ abort: new AbortController() });
  const savingNow = useRef(false);
  const latest = useRef(draft);
  latest.current = draft;

  const resolver = (host: string) => (path: string) => api.resolve(path, host);
  const waiting: OnRetry = (_error, delayMs) => setRetryIn(Math.ceil(delayMs / 1000));
  const clearErrors = () => {
    setSaveError(null);
    setInvalidSlide(null);
    setTitleMissing(false);
    setConflict(false);
  };
  const refused = () => setRefusals((n) => n + 1);

  /** Ends the current session (aborting its requests) and starts a fresh one. */
  const begin = (id: string | null): Session => {
    session.current.abort.abort();
    const next = { abort: new AbortController() };
    session.current = next;
    setSessionCount((n) => n + 1);
    setLessonId(id);
    setLoading(false);
    setLoadError(null);
    setSaving(false);
    setDeleting(false);
    setRetryIn(null);
    setNotice(null);
    uploads.clear();
    clearErrors();
    return next;
  };
  const alive = (s: Session) => session.current === s;

  useEffect(() => () => session.current.abort.abort(), []);

  const hasUnsavedWork = draft?.dirty === true || uploads.isBusy;
  useEffect(() => {
    if (!hasUnsavedWork) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    addEventListener("beforeunload", warn);
    return () => removeEventListener("beforeunload", warn);
  }, [hasUnsavedWork]);

  const read = async (s: Session, id: string) => {
    setLoading(true);
    try {
      const { data, host } = await fetchLesson(api, id, {
        signal: s.abort.signal,
        onRetry: waiting,
      });
      if (!alive(s)) return;
      clearErrors();
      setDraft(fromLesson(data, resolver(host)));
      setLoads((n) => n + 1);
    } catch (error) {
      if (alive(s)) setLoadError(failure(error));
    } finally {
      if (alive(s)) {
        setLoading(false);
        setRetryIn(null);
      }
    }
  };

  const save = async () => {
    const current = latest.current;
    // A second press before the view has disabled the button must not save twice.
    if (!current || savingNow.current) return;
    const s = session.current;
    clearErrors();
    if (current.title.trim() === "") {
      setSaveError(t("titleRequired"));
      setTitleMissing(true);
      refused();
      return;
    }
    const request = saveRequest(current);
    setSaving(true);
    savingNow.current = true;
    try {
      const { data, host } = await storeLesson(api, current, request.input, {
        signal: s.abort.signal,
        onRetry: waiting,
      });
      if (!alive(s)) return;
      setDraft((d) => d && savedAs(d, request, data, resolver(host)));
      setLessonId(data.id);
      hooks.onSaved(data);
    } catch (error) {
      if (!alive(s)) return;
      if (isConflict(error)) {
        setConflict(true);
      } else {
        setSaveError(saveFailure(error));
        if (error instanceof ApiError && error.status === 400) {
          setInvalidSlide(refusedSlide(request, error.message));
          refused();
        }
      }
    } finally {
      savingNow.current = false;
      if (alive(s)) {
        setSaving(false);
        setRetryIn(null);
      }
    }
  };

  const remove = async () => {
    const current = latest.current;
    if (!current?.id) return;
    const s = session.current;
    const id = current.id;
    clearErrors();
    setDeleting(true);
    try {
      await removeLesson(api, id, current.version, { signal: s.abort.signal, onRetry: waiting });
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      if (!alive(s)) return;
      if (!gone) {
        setDeleting(false);
        setRetryIn(null);
        if (isConflict(error)) setConflict(true);
        else setSaveError(failure(error));
        return;
      }
    }
    if (!alive(s)) return;
    hooks.onDeleted(id);
    begin(null);
    setDraft(null);
    setNotice(t("lessonDeleted"));
  };

  return {
    draft,
    lessonId,
    loading,
    loadError,
    saving,
    deleting,
    saveError,
    invalidSlide,
    titleMissing,
    refusals,
    session: sessionCount,
    loads,
    conflict,
    retryIn,
    notice,
    uploads: uploads.jobs,
    hasUnsavedWork,
    change: (edit) => setDraft((d) => d && edit(d)),
    create: () => {
      begin(null);
      setDraft(newDraft());
    },
    open: (id) => {
      const s = begin(id);
      setDraft(null);
      void read(s, id);
    },
    reload: () => {
      const id = latest.current?.id;
      if (!id) return;
      void read(session.current, id);
    },
    save: () => void save(),
    remove: () => void remove(),
    addFiles: (files) =>
      uploads.add(files, session.current.abort.signal, (upload, host, pages) =>
        setDraft((d) => d && addUpload(d, upload, api.resolve(upload.url, host), pages)),
      ),
    dismissUpload: uploads.dismiss,
  };
}
