// One slide in the lesson's ordered list: its preview, the fields its kind has, the
// teacher's private notes, and buttons to move or delete it. Every control is a real button
// or labelled field; `data-focus` names the ones the editor puts the focus back on.

import { t, type MessageKey } from "../i18n";
import type { DraftSlide, SlideKind, SlidePatch } from "./draft";
import { SlidePreview } from "./SlidePreview";

const KIND_NAMES: Record<SlideKind, MessageKey> = {
  image: "imageSlide",
  pdf: "pdfSlide",
  video: "videoSlide",
  text: "textSlide",
  link: "linkSlide",
};

interface Props {
  slide: DraftSlide;
  index: number;
  count: number;
  invalid: boolean;
  onEdit: (patch: SlidePatch) => void;
  onPage: (page: number) => void;
  onMove: (step: -1 | 1) => void;
  onDelete: () => void;
}

function value(event: Event): string {
  return (event.currentTarget as HTMLInputElement | HTMLTextAreaElement).value;
}

export function SlideItem({ slide, index, count, invalid, ...on }: Props) {
  const { key } = slide;
  const headingId = `slide-${key}`;
  return (
    <li class={`slide${invalid ? " slide-invalid" : ""}`} aria-labelledby={headingId}>
      <div class="slide-head">
        <h4 id={headingId} tabIndex={-1} data-focus={`${key}:heading`}>
          {t("slideOf", { slide: index + 1, count })}
        </h4>
        <span class="muted">{t(KIND_NAMES[slide.kind])}</span>
      </div>
      <div class="slide-body">
        <SlidePreview slide={slide} />
        <div class="slide-fields">
          {slide.kind === "text" && (
            <label>
              {t("slideText")}
              <textarea
                rows={3}
                value={slide.text ?? ""}
                data-focus={`${key}:text`}
                onInput={(event) => on.onEdit({ text: value(event) })}
              />
            </label>
          )}
          {slide.kind === "link" && (
            <label>
              {t("linkAddress")}
              <input
                type="url"
                inputMode="url"
                autocomplete="url"
                placeholder="https://"
                value={slide.url ?? ""}
                data-focus={`${key}:url`}
                onInput={(event) => on.onEdit({ url: value(event) })}
              />
            </label>
          )}
          {slide.kind === "pdf" && (
            <label>
              {t("page")}
              <input
                type="number"
                inputMode="numeric"
                min={1}
                max={slide.pages}
                step={1}
                value={slide.page ?? 1}
                onInput={(event) => on.onPage(Number(value(event)))}
              />
            </label>
          )}
          <label>
            {t("notes")}
            <textarea
              rows={2}
              value={slide.notes}
              onInput={(event) => on.onEdit({ notes: value(event) })}
            />
          </label>
        </div>
      </div>
      <div class="editor-actions slide-actions">
        <button
          type="button"
          disabled={index === 0}
          data-focus={`${key}:up`}
          onClick={() => on.onMove(-1)}
        >
          {t("moveUp")}
        </button>
        <button
          type="button"
          disabled={index === count - 1}
          data-focus={`${key}:down`}
          onClick={() => on.onMove(1)}
        >
          {t("moveDown")}
        </button>
        <button type="button" class="danger" onClick={on.onDelete}>
          {t("deleteSlide")}
        </button>
      </div>
    </li>
  );
}
