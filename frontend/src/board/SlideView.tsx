// One slide on the board: an image, a PDF page (pdf.js is loaded only when a PDF slide needs
// it), a video, text or a link. `onShown` fires once the slide is actually on screen (an
// image decoded, a PDF page drawn), so the teacher's "on the board" tells the truth.

import type { ComponentChild } from "preact";
import { useEffect, useRef } from "preact/hooks";

import { t } from "../i18n";
import type { LoadedLesson, Slide } from "../lessons";
import { Qr } from "../ui/Qr";

interface Props {
  lesson: LoadedLesson;
  slide: Slide;
  onShown: () => void;
}

export function SlideView({ lesson, slide, onShown }: Props) {
  const media = lesson.media[slide.id];
  switch (slide.kind) {
    case "image":
      return <ImageSlide src={media} onShown={onShown} />;
    case "pdf":
      return <PdfSlide src={media} page={slide.page ?? 1} onShown={onShown} />;
    case "video":
      return <VideoSlide src={media} onShown={onShown} />;
    case "text":
      return <Painted onShown={onShown} node={<div class="slide-text">{slide.text}</div>} />;
    case "link":
      return (
        <Painted
          onShown={onShown}
          node={
            <div class="slide-link">
              <p class="slide-link-url">{slide.url}</p>
              {slide.url && <Qr text={slide.url} label={t("openLink")} />}
            </div>
          }
        />
      );
  }
}

/** Calls `onShown` after the browser painted `node`. */
export function Painted({ node, onShown }: { node: ComponentChild; onShown: () => void }) {
  useEffect(() => {
    const frame = requestAnimationFrame(() => onShown());
    return () => cancelAnimationFrame(frame);
  }, [node, onShown]);
  return <>{node}</>;
}

function ImageSlide({ src, onShown }: { src: string | undefined; onShown: () => void }) {
  const image = useRef<HTMLImageElement>(null);
  useEffect(() => {
    const element = image.current;
    if (element?.complete && element.naturalWidth > 0) onShown();
  }, [src, onShown]);
  return <img ref={image} class="slide-media" src={src} alt="" onLoad={onShown} />;
}

function VideoSlide({ src, onShown }: { src: string | undefined; onShown: () => void }) {
  return (
    <video
      class="slide-media"
      src={src}
      controls
      preload="auto"
      playsInline
      onLoadedData={onShown}
    />
  );
}

function PdfSlide(props: { src: string | undefined; page: number; onShown: () => void }) {
  const { src, page, onShown } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const target = canvas.current;
    if (!src || !target) return;
    let cancelled = false;
    let close = () => undefined as void;
    void import("../ui/pdf")
      .then(({ openPdf }) => openPdf(src))
      .then(async (pdf) => {
        close = () => pdf.close();
        if (cancelled) return close();
        const box = target.parentElement?.getBoundingClientRect();
        await pdf.render(Math.min(page, pdf.pages), target, {
          width: box?.width ?? innerWidth,
          height: box?.height ?? innerHeight,
        });
        if (cancelled) return;
        target.dataset.drawn = String(page);
        onShown();
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      close();
    };
  }, [src, page, onShown]);
  return <canvas ref={canvas} class="slide-pdf" aria-label={t("pdfPage", { page })} />;
}
