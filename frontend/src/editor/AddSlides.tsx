// The ways to add slides: media files (uploaded one after another, each with its progress),
// a text slide or a link slide. The file picker is a real file input under its label, so
// keyboards, screen readers and browser tests reach it like any other field.

import { t } from "../i18n";
import type { UploadJob } from "./useUploads";

const ACCEPTED = "image/*,application/pdf,video/*,audio/*";

interface Props {
  uploads: UploadJob[];
  onFiles: (files: File[]) => void;
  onText: () => void;
  onLink: () => void;
  onDismiss: (key: string) => void;
}

export function AddSlides({ uploads, onFiles, onText, onLink, onDismiss }: Props) {
  const picked = (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = "";
    if (files.length > 0) onFiles(files);
  };
  return (
    <div class="add-slides">
      <div class="editor-actions">
        <label class="button-like file-pick">
          <span>{t("addMedia")}</span>
          <input
            type="file"
            class="visually-hidden"
            multiple
            accept={ACCEPTED}
            aria-describedby="media-help"
            onChange={picked}
          />
        </label>
        <button type="button" data-focus="add-text" onClick={onText}>
          {t("addTextSlide")}
        </button>
        <button type="button" onClick={onLink}>
          {t("addLinkSlide")}
        </button>
      </div>
      <p id="media-help" class="muted editor-hint">
        {t("mediaHelp")}
      </p>
      {uploads.length > 0 && (
        <ul class="uploads">
          {uploads.map((job) => (
            <li key={job.key}>
              {job.error ? (
                <div class="upload-failed">
                  <p class="error" role="alert">
                    {job.error}
                  </p>
                  <button type="button" onClick={() => onDismiss(job.key)}>
                    {t("dismiss")}
                  </button>
                </div>
              ) : (
                <label>
                  {t("uploading", { name: job.name })}
                  <progress max={Math.max(1, job.total)} value={job.sent} />
                  {job.retryIn !== undefined && (
                    <span class="muted">{t("retrying", { seconds: job.retryIn })}</span>
                  )}
                </label>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
