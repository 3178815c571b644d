// What a failed request means to the teacher, in their language: one sentence they can act
// on, never a stack trace or an alert box. Kept apart from the views so it can be tested.

import { t } from "../i18n";
import { ApiError, Unreachable } from "../net";

function reason(error: unknown): string {
  if (error instanceof Unreachable) return t("unreachable");
  if (error instanceof Error) return t("errorTryAgain", { reason: error.message });
  return t("errorTryAgain", { reason: String(error) });
}

/** Why the file `name` was not uploaded. */
export function uploadFailure(error: unknown, name: string): string {
  if (error instanceof ApiError && error.status === 413) return t("tooLarge", { name });
  if (error instanceof ApiError && error.status === 415) return t("unsupported", { name });
  return reason(error);
}

/** Why a save was refused; a 400 names the slide and field, in the node's words. */
export function saveFailure(error: unknown): string {
  if (error instanceof ApiError && error.status === 400)
    return t("notSaved", { reason: error.message });
  return reason(error);
}

/** Why loading or deleting did not work. */
export function failure(error: unknown): string {
  return reason(error);
}

/** Whether the node refused because someone else saved the lesson meanwhile. */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 409 || error.status === 412);
}
