// The editor as a whole: nothing alarming while the login is restored from the session
// cookie, the shared login form when logged out, the workspace once a teacher is in.

import { t } from "../i18n";
import type { Net } from "../net";
import { Login } from "../ui/Login";
import { useTeacher } from "../ui/teacher";
import { Workspace } from "./Workspace";

export function EditorApp({ net }: { net: Net }) {
  const teacher = useTeacher(net);
  switch (teacher.state.kind) {
    case "restoring":
      return <main class="page" aria-busy="true" />;
    case "logged_out":
      return (
        <main class="page">
          <Login teacher={teacher} />
          <p class="muted login-hint">{t("loginFirst")}</p>
        </main>
      );
    case "logged_in":
      return <Workspace net={net} teacher={teacher} />;
  }
}
