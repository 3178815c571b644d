// The board's screen: the slide (or black when blanked), the timer, the laser dot, the
// pairing code with its QR code while no teacher is paired, "Jan de Vries connected" with
// "not me", and a small status dot. It never shows an error screen: offline, it keeps what
// it shows and the dot says so.

import { useCallback, useEffect, useState } from "preact/hooks";

import { t } from "../i18n";
import { Qr } from "../ui/Qr";
import { Status, type Health } from "../ui/Status";
import type { BoardSession, BoardSnapshot } from "./session";
import { Painted, SlideView } from "./SlideView";
import { formatCountdown, secondsLeft, visibleSlide } from "./state";

function health(snapshot: BoardSnapshot): Health {
  return snapshot.status === "online"
    ? "online"
    : snapshot.status === "connecting"
      ? "connecting"
      : "offline";
}

/** The code as a person reads it aloud: `123 456`. */
function grouped(code: string): string {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

export function BoardScreen({ session }: { session: BoardSession }) {
  const [snapshot, setSnapshot] = useState(session.current);
  useEffect(() => session.subscribe(setSnapshot), [session]);
  const { state, lesson, offset, code, pairedBy } = snapshot;
  const onShown = useCallback(() => session.rendered(offset), [session, offset]);

  const slides = lesson && lesson.id === state.lesson_id ? lesson.slides : null;
  const slide = slides && slides.length > 0 ? slides[visibleSlide(state, slides.length)] : null;
  const statusText = {
    online: t("online"),
    connecting: t("connecting"),
    offline: t("offline"),
  }[health(snapshot)];

  let content;
  if (state.blank) {
    content = <Painted onShown={onShown} node={<div class="board-blank" />} />;
  } else if (slide && lesson) {
    content = <SlideView key={slide.id} lesson={lesson} slide={slide} onShown={onShown} />;
  } else if (state.lesson_id !== null && snapshot.lessonMissing) {
    content = (
      <Painted onShown={onShown} node={<p class="board-note">{t("lessonUnavailable")}</p>} />
    );
  } else if (state.lesson_id === null && !code) {
    content = (
      <Painted onShown={onShown} node={<p class="board-note">{t("waitingForLesson")}</p>} />
    );
  }

  return (
    <main class={`board${state.blank ? " is-blank" : ""}`} data-offset={offset}>
      <div class="board-stage">
        {content}
        {snapshot.pointer && !state.blank && (
          <div
            class="laser"
            aria-hidden="true"
            style={{ left: `${snapshot.pointer.x * 100}%`, top: `${snapshot.pointer.y * 100}%` }}
          />
        )}
      </div>
      {code && <PairingCode code={code} small={slide !== null} />}
      {pairedBy && (
        <div class="paired-notice" role="alert">
          <span>{t("connectedBy", { name: pairedBy.name })}</span>
          <button type="button" onClick={() => void session.notMe().catch(() => undefined)}>
            {t("notMe")}
          </button>
        </div>
      )}
      {state.timer_ends_at && <Countdown endsAt={state.timer_ends_at} skewMs={snapshot.skewMs} />}
      <footer class="board-footer">
        <Status health={health(snapshot)} text={statusText} node={snapshot.node} />
        {snapshot.controllers > 0 && (
          <span class="board-controllers">
            {snapshot.controllers === 1
              ? t("controller")
              : t("controllers", { count: snapshot.controllers })}
          </span>
        )}
      </footer>
    </main>
  );
}

function PairingCode({ code, small }: { code: string; small: boolean }) {
  const link = `${location.origin}/?code=${code}`;
  return (
    <section class={`pairing${small ? " is-small" : ""}`} aria-label={t("pairingCode")}>
      <span class="pairing-code">{grouped(code)}</span>
      {!small && (
        <>
          <Qr text={link} label={t("scanToPair")} />
          <p class="pairing-help">{t("pairHere")}</p>
        </>
      )}
    </section>
  );
}

function Countdown({ endsAt, skewMs }: { endsAt: string; skewMs: number | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  const left = secondsLeft(endsAt, now, skewMs ?? 0);
  if (left === null) return null;
  return (
    <div class={`countdown${left === 0 ? " is-done" : ""}`} role="timer" aria-label={t("timer")}>
      {formatCountdown(left)}
    </div>
  );
}
