// The laser pointer: a pad shaped like the board; dragging a finger or the mouse moves a red
// dot on the board, lifting it hides the dot.

import { t } from "../i18n";

interface Props {
  onMove: (x: number, y: number) => void;
  onLeave: () => void;
}

export function Pad({ onMove, onLeave }: Props) {
  const move = (event: PointerEvent) => {
    if (event.pointerType === "mouse" && event.buttons === 0) return;
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    onMove((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
  };
  return (
    <div
      class="pad"
      role="application"
      aria-label={t("pointer")}
      onPointerDown={(event) => {
        (event.currentTarget as HTMLElement).setPointerCapture(event.pointerId);
        move(event);
      }}
      onPointerMove={move}
      onPointerUp={onLeave}
      onPointerCancel={onLeave}
    >
      <span class="pad-hint">{t("pointer")}</span>
    </div>
  );
}
