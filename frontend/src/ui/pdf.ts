// PDF slides through pdf.js, behind two calls the board and the lesson editor share. pdf.js is
// large, so this module is only ever loaded with `await import("../ui/pdf")`: it and its
// worker stay out of every view's first download.

import {
  getDocument,
  GlobalWorkerOptions,
  RenderingCancelledException,
  type RenderTask,
} from "pdfjs-dist";
import workerUrl from "pdfjs-dist/build/pdf.worker.min.mjs?url";

GlobalWorkerOptions.workerSrc = workerUrl;

/** Canvas size browsers still draw reliably (iOS Safari refuses larger canvases). */
const MAX_CANVAS_PIXELS = 16_777_216;

export interface PdfDocument {
  /** How many pages the document has (pages count from 1). */
  pages: number;
  /**
   * Draws `page` on `canvas`, as large as fits in `box` (CSS pixels) at its own aspect
   * ratio and sharp at the screen's pixel density. A render still running on the same
   * canvas is cancelled first; that earlier call then resolves without drawing.
   */
  render(
    page: number,
    canvas: HTMLCanvasElement,
    box: { width: number; height: number },
  ): Promise<void>;
  /** Frees the document and its worker; renders still running are cancelled. */
  close(): void;
}

/** What each canvas is drawing now, so a newer render can cancel it. */
const running = new WeakMap<HTMLCanvasElement, { task: RenderTask; done: Promise<void> }>();
/** The newest render asked of each canvas: only it may start drawing. */
const newest = new WeakMap<HTMLCanvasElement, number>();
let tickets = 0;

/** Opens the PDF at `url` (any URL fetch can read, blob: URLs included). */
export async function openPdf(url: string): Promise<PdfDocument> {
  const loading = getDocument({ url });
  const pdf = await loading.promise;
  let closed = false;
  return {
    pages: pdf.numPages,
    async render(page, canvas, box) {
      const ticket = ++tickets;
      newest.set(canvas, ticket);
      const previous = running.get(canvas);
      if (previous) {
        previous.task.cancel();
        await previous.done;
      }
      const proxy = await pdf.getPage(page);
      // Superseded while waiting: the newer call draws instead.
      if (closed || newest.get(canvas) !== ticket) return;
      const natural = proxy.getViewport({ scale: 1 });
      const fit = Math.min(box.width / natural.width, box.height / natural.height);
      const cssWidth = Math.max(1, Math.floor(natural.width * fit));
      const cssHeight = Math.max(1, Math.floor(natural.height * fit));
      const wanted = Math.max(1, window.devicePixelRatio || 1);
      const room = Math.sqrt(MAX_CANVAS_PIXELS / (cssWidth * cssHeight));
      const density = Math.min(wanted, room);
      const viewport = proxy.getViewport({ scale: fit * density });
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${cssWidth}px`;
      canvas.style.height = `${cssHeight}px`;
      const task = proxy.render({ canvas, viewport });
      // A cancelled render is not a failure: a newer one on this canvas replaced it, or
      // the document was closed.
      const done = task.promise.then(
        () => undefined,
        (error: unknown) => {
          if (!closed && !(error instanceof RenderingCancelledException)) throw error;
        },
      );
      const entry = { task, done: done.catch(() => undefined) };
      running.set(canvas, entry);
      try {
        await done;
      } finally {
        if (running.get(canvas) === entry) running.delete(canvas);
      }
    },
    close() {
      closed = true;
      void loading.destroy();
    },
  };
}
