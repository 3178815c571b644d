// A small look at a slide beside its fields, cheap on school wifi: images load lazily, videos
// fetch only their first bytes, and a PDF page is named rather than drawn.

import { t } from "../i18n";
import { firstLine, type DraftSlide } from "./draft";

export function SlidePreview({ slide }: { slide: DraftSlide }) {
  switch (slide.kind) {
    case "image":
      return slide.mediaUrl ? (
        <img class="slide-preview slide-preview-media" src={slide.mediaUrl} alt="" loading="lazy" />
      ) : (
        <p class="slide-preview muted">{t("imageSlide")}</p>
      );
    case "video":
      return slide.mediaUrl ? (
        <video
          class="slide-preview slide-preview-media"
          src={slide.mediaUrl}
          preload="metadata"
          controls
        />
      ) : (
        <p class="slide-preview muted">{t("videoSlide")}</p>
      );
    case "pdf":
      return (
        <p class="slide-preview slide-preview-page">{t("pdfPage", { page: slide.page ?? 1 })}</p>
      );
    case "text": {
      const line = firstLine(slide.text);
      return (
        <p class={`slide-preview slide-preview-text${line ? "" : " muted"}`}>
          {line || t("emptySlide")}
        </p>
      );
    }
    case "link":
      return (
        <p class={`slide-preview slide-preview-text${slide.url ? "" : " muted"}`}>
          {slide.url?.trim() || t("emptySlide")}
        </p>
      );
  }
}
