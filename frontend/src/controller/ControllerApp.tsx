// The controller: log in, pick a board (by its code, or one paired before), then steer it.
// The board being steered is remembered, so a reload lands back on it.

import { useState } from "preact/hooks";

import { t } from "../i18n";
import type { Net } from "../net";
import { Login } from "../ui/Login";
import { useTeacher } from "../ui/teacher";
import { Boards, type PairedBoard } from "./Boards";
import { Steer } from "./Steer";

const ACTIVE = "boardcast.pairing";

function storedPairing(): PairedBoard | null {
  try {
    const stored = JSON.parse(localStorage.getItem(ACTIVE) ?? "null") as PairedBoard | null;
    return stored && typeof stored.pairing_id === "string" ? stored : null;
  } catch {
    return null;
  }
}

export function ControllerApp({ net }: { net: Net }) {
  const teacher = useTeacher(net);
  const [active, setActive] = useState<PairedBoard | null>(storedPairing);
  const [notice, setNotice] = useState<string | null>(null);

  const choose = (board: PairedBoard | null, message: string | null = null) => {
    if (board) localStorage.setItem(ACTIVE, JSON.stringify(board));
    else localStorage.removeItem(ACTIVE);
    setActive(board);
    setNotice(message);
  };

  if (teacher.state.kind === "restoring") {
    return <p class="page muted">{t("connecting")}</p>;
  }
  if (teacher.state.kind === "logged_out") {
    return <Login teacher={teacher} />;
  }
  const me = teacher.state.me;
  return (
    <div class="page controller">
      <header class="topbar">
        <h1>{t("appName")}</h1>
        <span class="muted">{me.display_name}</span>
        <nav class="topbar-actions">
          <a class="button-like" href={`/lessons${location.search}`}>
            {t("editLessons")}
          </a>
          <button type="button" onClick={() => void teacher.logout().then(() => choose(null))}>
            {t("logOut")}
          </button>
        </nav>
      </header>
      {notice && (
        <p class="notice" role="alert">
          {notice}
        </p>
      )}
      {active ? (
        <Steer
          key={active.pairing_id}
          net={net}
          auth={teacher.auth}
          board={active}
          onLeave={(message) => choose(null, message)}
        />
      ) : (
        <Boards net={net} onChoose={(board) => choose(board)} />
      )}
    </div>
  );
}
