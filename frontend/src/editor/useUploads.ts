// Media files on their way to the nodes, each with its progress: uploaded one after another
// in the order picked (on school wifi, one transfer at a time finishes soonest), retried
// through short outages, and reported as a sentence when refused.

import { useState } from "preact/hooks";

import { ApiError, type Api } from "../net";
import { mediaKindOf, type Upload } from "./draft";
import { uploadFailure } from "./messages";
import { countPdfPages, uploadFile } from "./requests";

export interface UploadJob {
  key: string;
  name: string;
  sent: number;
  total: number;
  /** Seconds until the next attempt, after one failed for now. */
  retryIn?: number;
  error?: string;
}

/** An upload done: what the node answered, the host that answered, the pages of a PDF. */
export type Uploaded = (upload: Upload, host: string, pages: number) => void;

export interface Uploads {
  jobs: UploadJob[];
  /** Files still being sent (failed ones are not). */
  isBusy: boolean;
  /** Uploads `files` until `signal` aborts, calling `done` for each one the node took. */
  add: (files: File[], signal: AbortSignal, done: Uploaded) => void;
  dismiss: (key: string) => void;
  clear: () => void;
}

let jobCount = 0;

export function useUploads(api: Api): Uploads {
  const [jobs, setJobs] = useState<UploadJob[]>([]);

  const update = (key: string, changes: Partial<UploadJob>) =>
    setJobs((all) => all.map((job) => (job.key === key ? { ...job, ...changes } : job)));
  const drop = (key: string) => setJobs((all) => all.filter((job) => job.key !== key));

  const run = async (files: File[], signal: AbortSignal, done: Uploaded) => {
    const added = files.map((file) => ({
      key: `u${++jobCount}`,
      name: file.name,
      sent: 0,
      total: file.size,
    }));
    // A new pick clears the messages about earlier failures.
    setJobs((all) => [...all.filter((job) => !job.error), ...added]);
    for (const [index, file] of files.entries()) {
      const key = added[index]?.key ?? "";
      try {
        const { data, host } = await uploadFile(
          api,
          file,
          (sent, total) => update(key, { sent, total, retryIn: undefined }),
          {
            signal,
            onRetry: (_error, delayMs) => update(key, { retryIn: Math.ceil(delayMs / 1000) }),
          },
        );
        const kind = mediaKindOf(data.content_type);
        if (kind === null) throw new ApiError(415, "unsupported_media_type", data.content_type);
        const pages = kind === "pdf" ? await countPdfPages(file) : 1;
        if (signal.aborted) return;
        done(data, host, pages);
        drop(key);
      } catch (error) {
        if (signal.aborted) return;
        update(key, { error: uploadFailure(error, file.name), retryIn: undefined });
      }
    }
  };

  return {
    jobs,
    isBusy: jobs.some((job) => !job.error),
    add: (files, signal, done) => void run(files, signal, done),
    dismiss: drop,
    clear: () => setJobs([]),
  };
}
