// Deleting a saved lesson takes two presses: the first asks, inside the page, and the
// question names the lesson. Cancelling puts the focus back where it was.

import { useLayoutEffect, useRef, useState } from "preact/hooks";

import { t } from "../i18n";
import { Confirm } from "./Confirm";

interface Props {
  title: string;
  busy: boolean;
  onDelete: () => void;
}

export function DeleteLesson({ title, busy, onDelete }: Props) {
  const [asking, setAsking] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  useLayoutEffect(() => {
    if (!asking && asked.current) button.current?.focus();
    asked.current = asking;
  }, [asking]);

  return (
    <div class="delete-lesson">
      {asking ? (
        <Confirm
          message={t("confirmDeleteLesson", { title: title || t("untitled") })}
          yes={t("deleteLesson")}
          no={t("cancel")}
          busy={busy}
          onYes={onDelete}
          onNo={() => setAsking(false)}
        />
      ) : (
        <button type="button" class="danger" ref={button} onClick={() => setAsking(true)}>
          {t("deleteLesson")}
        </button>
      )}
    </div>
  );
}
