// A question asked inside the page (never `confirm()`): it takes the focus when it appears,
// so a keyboard or screen reader user lands on it, and Escape answers "no".

import { useLayoutEffect, useRef } from "preact/hooks";

interface Props {
  message: string;
  yes: string;
  no: string;
  onYes: () => void;
  onNo: () => void;
  busy?: boolean;
}

export function Confirm({ message, yes, no, onYes, onNo, busy = false }: Props) {
  const safe = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => safe.current?.focus(), []);
  return (
    <div
      class="editor-confirm"
      role="group"
      aria-label={message}
      onKeyDown={(event) => event.key === "Escape" && onNo()}
    >
      <p class="editor-confirm-message">{message}</p>
      <div class="editor-actions">
        <button type="button" class="danger" onClick={onYes} disabled={busy}>
          {yes}
        </button>
        <button type="button" ref={safe} onClick={onNo}>
          {no}
        </button>
      </div>
    </div>
  );
}
