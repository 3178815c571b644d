// The Save button and what became of the last save, always in view while editing: the state
// in a `role="status"` element, a refusal in words, and when another device saved first, the
// way to load their version (the teacher's edits stay until they press it).

import { t } from "../i18n";
import type { Editor } from "./useEditor";

function saveState(editor: Editor): string {
  if (editor.saving) return t("saving");
  if (editor.draft?.dirty || editor.draft?.id === null) return t("unsaved");
  return t("saved");
}

export function SaveBar({ editor }: { editor: Editor }) {
  const waiting = editor.retryIn !== null ? ` ${t("retrying", { seconds: editor.retryIn })}` : "";
  return (
    <div class="save-bar">
      <div class="save-row">
        <button
          type="button"
          class="primary"
          disabled={editor.saving || editor.deleting}
          onClick={editor.save}
        >
          {t("save")}
        </button>
        <p class="status save-state" role="status" aria-live="polite">
          {saveState(editor)}
          {waiting}
        </p>
      </div>
      {editor.saveError && (
        <p class="error" role="alert">
          {editor.saveError}
        </p>
      )}
      {editor.conflict && (
        <div class="conflict" role="alert">
          <p class="error">{t("changedElsewhere")}</p>
          <button type="button" onClick={editor.reload} disabled={editor.loading}>
            {t("reload")}
          </button>
        </div>
      )}
    </div>
  );
}
