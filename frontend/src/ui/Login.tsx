// The login form: the school account's username and password (the password grant). Errors
// are sentences a teacher can act on; the password is never kept beyond the request.

import { useState } from "preact/hooks";

import { t } from "../i18n";
import { AuthError } from "../net";
import type { Teacher } from "./teacher";

function reason(error: unknown): string {
  if (!(error instanceof AuthError)) return t("errorTryAgain", { reason: String(error) });
  switch (error.kind) {
    case "missing_credentials":
      return t("emptyCredentials");
    case "invalid_credentials":
      return t("wrongCredentials");
    case "throttled":
      return t("throttled", { seconds: error.retryAfter ?? 60 });
    case "directory_down":
      return t("directoryDown");
    case "unreachable":
      return t("unreachable");
    case "failed":
      return t("errorTryAgain", { reason: error.message });
  }
}

export function Login({ teacher }: { teacher: Teacher }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      const field = (name: string) => {
        const value = form.get(name);
        return typeof value === "string" ? value : "";
      };
      await teacher.auth.login(field("username"), field("password"));
      await teacher.loggedIn();
    } catch (failure) {
      setError(reason(failure));
      setBusy(false);
    }
  };

  return (
    <form class="card login" onSubmit={(event) => void submit(event)}>
      <h1>{t("appName")}</h1>
      <label>
        {t("username")}
        <input name="username" autocomplete="username" autocapitalize="none" />
      </label>
      <label>
        {t("password")}
        <input name="password" type="password" autocomplete="current-password" />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t("loggingIn") : t("logIn")}
      </button>
    </form>
  );
}
