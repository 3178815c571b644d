// Picking a board: type the 6-digit code it shows (filled in when the board's QR code opened
// this page), or open one of the boards paired before, with whether each is online now.

import { useEffect, useState } from "preact/hooks";

import { t } from "../i18n";
import { ApiError, type Net } from "../net";
import { Status, type Health } from "../ui/Status";

export interface PairedBoard {
  pairing_id: string;
  board: { id: string; name: string };
}

interface Listed extends PairedBoard {
  board: { id: string; name: string; online: boolean };
}

function codeFromAddress(): string {
  return (new URLSearchParams(location.search).get("code") ?? "").replace(/\D/g, "").slice(0, 6);
}

function pairingError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "invalid_code") return t("invalidCode");
    if (error.status === 429) return t("throttled", { seconds: error.retryAfter ?? 60 });
    return t("errorTryAgain", { reason: error.message });
  }
  return t("unreachable");
}

export function Boards({ net, onChoose }: { net: Net; onChoose: (board: PairedBoard) => void }) {
  const [code, setCode] = useState(codeFromAddress);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [boards, setBoards] = useState<Listed[] | null>(null);
  const [health, setHealth] = useState<Health>("connecting");

  useEffect(() => {
    const stop = new AbortController();
    net.api
      .retrying(
        () => net.api.get<Listed[]>("/api/pairings", { signal: stop.signal }),
        stop.signal,
        () => setHealth("offline"),
      )
      .then(({ data }) => {
        setBoards(data);
        setHealth("online");
      })
      .catch(() => !stop.signal.aborted && setBoards([]));
    return () => stop.abort();
  }, [net]);

  const connect = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data } = await net.api.post<PairedBoard>("/api/pairings", {
        json: { code: code.replace(/\s/g, "") },
      });
      if (codeFromAddress()) history.replaceState(null, "", location.pathname);
      onChoose({ pairing_id: data.pairing_id, board: data.board });
    } catch (failure) {
      setError(pairingError(failure));
      setBusy(false);
    }
  };

  return (
    <>
      <form class="card connect" onSubmit={(event) => void connect(event)}>
        <label>
          {t("boardCode")}
          <input
            name="code"
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9 ]*"
            maxLength={7}
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
            aria-describedby="code-help"
          />
        </label>
        <p id="code-help" class="muted">
          {t("codeHelp")}
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {t("connect")}
        </button>
      </form>
      <section class="card">
        <div class="steer-head">
          <h2>{t("yourBoards")}</h2>
          <Status
            health={health}
            text={
              { online: t("online"), connecting: t("connecting"), offline: t("reconnecting") }[
                health
              ]
            }
          />
        </div>
        {boards === null ? (
          <p class="muted">{t("connecting")}</p>
        ) : boards.length === 0 ? (
          <p class="muted">{t("noBoards")}</p>
        ) : (
          <ul class="board-list">
            {boards.map((listed) => (
              <li key={listed.pairing_id}>
                <button type="button" onClick={() => onChoose(listed)}>
                  <span
                    class={`dot ${listed.board.online ? "is-online" : ""}`}
                    aria-hidden="true"
                  />
                  {listed.board.name}
                  <span class="muted">
                    {" "}
                    ({listed.board.online ? t("boardOnline") : t("boardOffline")})
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
