// One lesson on screen: its title, the Save bar, the ways to add slides and the ordered
// slides themselves. It only turns presses into draft edits and keeps the keyboard focus
// where the teacher expects it (on a moved slide's button, on a new slide's field).

import { useLayoutEffect, useRef } from "preact/hooks";

import { t } from "../i18n";
import { AddSlides } from "./AddSlides";
import { DeleteLesson } from "./DeleteLesson";
import {
  addLinkSlide,
  addTextSlide,
  deleteSlide,
  editSlide,
  moveSlide,
  nextSlideKey,
  setPage,
  setTitle,
  type Draft,
} from "./draft";
import { SaveBar } from "./SaveBar";
import { SlideItem } from "./SlideItem";
import type { Editor } from "./useEditor";

interface Props {
  editor: Editor;
  draft: Draft;
}

/** Mounted once per lesson opened (keyed by the editor's session). */
export function LessonEditor({ editor, draft }: Props) {
  const root = useRef<HTMLElement>(null);
  // Where the focus goes once the next render is on screen. A new lesson starts at its
  // title; one read from the node at its heading (see below).
  const pending = useRef<string | null>(draft.id === null ? "title" : null);
  const { slides } = draft;
  const change = editor.change;

  const focusOn = (target: string) =>
    root.current?.querySelector<HTMLElement>(`[data-focus="${target}"]`)?.focus();
  const setFocus = (target: string) => (pending.current = target);

  // Layout effects run before the browser paints or handles the next key, so a key pressed
  // right after a move or an added slide already reaches the right control.
  useLayoutEffect(() => {
    if (pending.current === null) return;
    focusOn(pending.current);
    pending.current = null;
  });

  // Each read of the lesson (opening it, or loading the version saved elsewhere) starts at
  // its heading; a new lesson was not read.
  const readsSeen = useRef(draft.id === null ? editor.loads : -1);
  useLayoutEffect(() => {
    if (editor.loads === readsSeen.current) return;
    readsSeen.current = editor.loads;
    focusOn("heading");
  }, [editor.loads]);

  // Each refused save takes the teacher to what was refused.
  useLayoutEffect(() => {
    if (editor.refusals === 0) return;
    const slide = slides.find((s) => s.key === editor.invalidSlide);
    if (slide) focusOn(`${slide.key}:heading`);
    else if (editor.titleMissing) focusOn("title");
  }, [editor.refusals]);

  const move = (index: number, key: string, step: -1 | 1) => {
    change((d) => moveSlide(d, key, step));
    const to = index + step;
    const atEnd = to === 0 || to === slides.length - 1;
    // A button that became disabled cannot hold the focus: use its twin.
    const which = atEnd ? (step === -1 ? "down" : "up") : step === -1 ? "up" : "down";
    setFocus(slides.length > 1 ? `${key}:${which}` : `${key}:heading`);
  };

  const remove = (index: number, key: string) => {
    change((d) => deleteSlide(d, key));
    const neighbour = slides[index + 1] ?? slides[index - 1];
    setFocus(neighbour ? `${neighbour.key}:heading` : "add-text");
  };

  return (
    // Not a named region: its name would be the lesson's title ("Untitled lesson"), which
    // screen readers and tests would confuse with the field labelled "Title".
    <section class="card lesson-editor" ref={root}>
      <h2 id="lesson-heading" tabIndex={-1} data-focus="heading">
        {draft.title.trim() || t("untitled")}
      </h2>
      <label>
        {t("title")}
        <input
          value={draft.title}
          maxLength={200}
          data-focus="title"
          onInput={(event) => {
            const title = event.currentTarget.value;
            change((d) => setTitle(d, title));
          }}
        />
      </label>
      <SaveBar editor={editor} />
      <h3>{t("slides")}</h3>
      <AddSlides
        uploads={editor.uploads}
        onFiles={editor.addFiles}
        onText={() => {
          setFocus(`${nextSlideKey(draft)}:text`);
          change(addTextSlide);
        }}
        onLink={() => {
          setFocus(`${nextSlideKey(draft)}:url`);
          change(addLinkSlide);
        }}
        onDismiss={editor.dismissUpload}
      />
      {slides.length === 0 ? (
        <p class="muted">{t("emptyLesson")}</p>
      ) : (
        <ol class="slides">
          {slides.map((slide, index) => (
            <SlideItem
              key={slide.key}
              slide={slide}
              index={index}
              count={slides.length}
              invalid={editor.invalidSlide === slide.key}
              onEdit={(patch) => change((d) => editSlide(d, slide.key, patch))}
              onPage={(page) => change((d) => setPage(d, slide.key, page))}
              onMove={(step) => move(index, slide.key, step)}
              onDelete={() => remove(index, slide.key)}
            />
          ))}
        </ol>
      )}
      {draft.id !== null && (
        <DeleteLesson title={draft.title} busy={editor.deleting} onDelete={editor.remove} />
      )}
    </section>
  );
}
