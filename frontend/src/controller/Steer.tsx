// Steering one board: the lessons to open, big next / previous (arrow keys, swipes), blank,
// a timer, the laser pointer pad, the slide strip with what comes next, and the speaker
// notes. The status line tells what the class sees: pending, received, or on the board.

import { useEffect, useMemo, useState } from "preact/hooks";

import { formatCountdown, secondsLeft, visibleSlide } from "../board/state";
import { t } from "../i18n";
import { slideSummary, type Lesson, type Slide } from "../lessons";
import type { Net, TeacherAuth } from "../net";
import { Status } from "../ui/Status";
import type { PairedBoard } from "./Boards";
import { Pad } from "./Pad";
import { boardIsCurrent, delivery, SteeringSession, type Steering } from "./steering";

interface Props {
  net: Net;
  auth: TeacherAuth;
  board: PairedBoard;
  onLeave: (message: string | null) => void;
}

const TIMER_MINUTES = [1, 5, 10, 15];
const SWIPE_PX = 50;

export function Steer({ net, auth, board, onLeave }: Props) {
  const session = useMemo(
    () => new SteeringSession(net, auth, board.pairing_id),
    [net, auth, board],
  );
  const [steering, setSteering] = useState(session.current);
  useEffect(() => {
    const unsubscribe = session.subscribe(setSteering);
    return () => {
      unsubscribe();
      session.close();
    };
  }, [session]);
  useEffect(() => {
    if (steering.status === "revoked") onLeave(t("unpaired"));
  }, [steering.status, onLeave]);
  useKeys(session, steering);

  const unpair = async () => {
    await net.api
      .delete(`/api/pairings/${encodeURIComponent(board.pairing_id)}`)
      .catch(() => undefined);
    onLeave(null);
  };

  const { state, lesson } = steering;
  const slides = lesson && lesson.id === state.lesson_id ? lesson.slides : null;
  const index = slides ? visibleSlide(state, slides.length) : state.slide;
  const health =
    steering.status === "online"
      ? "online"
      : steering.status === "connecting"
        ? "connecting"
        : "offline";

  return (
    <section class="steer" aria-labelledby="board-name">
      <div class="steer-main">
        <div class="steer-head">
          <h2 id="board-name">{board.board.name}</h2>
          <Status health={health} text={statusText(steering)} node={steering.node} />
        </div>
        <div
          class="steer-buttons"
          onTouchStart={(e) => (swipeStart = e.touches[0]?.clientX ?? null)}
          onTouchEnd={(e) => swipe(session, e.changedTouches[0]?.clientX)}
        >
          <button
            type="button"
            class="big"
            onClick={() => session.send({ kind: "prev" })}
            disabled={!state.lesson_id}
          >
            <span aria-hidden="true">‹&nbsp;</span>
            {t("previousSlide")}
          </button>
          <button
            type="button"
            class="big primary"
            onClick={() => session.send({ kind: "next" })}
            disabled={!state.lesson_id}
          >
            {t("nextSlide")}
            <span aria-hidden="true">&nbsp;›</span>
          </button>
        </div>
        <p
          class="delivery"
          data-delivery={delivery(steering) ?? "none"}
          data-current={boardIsCurrent(steering)}
        >
          {deliveryText(steering)}
          {slides && (
            <span class="muted"> · {t("slideOf", { slide: index + 1, count: slides.length })}</span>
          )}
        </p>
        <div class="steer-row">
          <button
            type="button"
            aria-pressed={state.blank}
            onClick={() => session.send({ kind: "blank", on: !state.blank })}
          >
            {t("blankScreen")}
          </button>
          <Timer steering={steering} session={session} />
        </div>
        {slides ? (
          <Strip
            slides={slides}
            lesson={lesson}
            index={index}
            onPick={(slide) => session.send({ kind: "goto", slide })}
          />
        ) : (
          state.lesson_id === null && <p class="muted">{t("noLessonOpen")}</p>
        )}
        {slides && <Notes slide={slides[index]} />}
      </div>
      <div class="steer-side">
        <Pad onMove={(x, y) => session.pointer(x, y)} onLeave={() => session.hidePointer()} />
        <LessonPicker
          net={net}
          openId={state.lesson_id}
          onOpen={(id) => session.send({ kind: "open_lesson", lesson_id: id })}
        />
        <div class="steer-row">
          <button type="button" onClick={() => onLeave(null)}>
            {t("backToBoards")}
          </button>
          {state.lesson_id && (
            <button type="button" onClick={() => session.send({ kind: "clear" })}>
              {t("closeLesson")}
            </button>
          )}
          <button type="button" class="danger" onClick={() => void unpair()}>
            {t("unpair")}
          </button>
        </div>
      </div>
    </section>
  );
}

let swipeStart: number | null = null;

function swipe(session: SteeringSession, end: number | undefined) {
  if (swipeStart === null || end === undefined) return;
  const dx = end - swipeStart;
  swipeStart = null;
  if (Math.abs(dx) < SWIPE_PX) return;
  session.send({ kind: dx < 0 ? "next" : "prev" });
}

/** Arrow keys, Page Up/Down (presenter clickers) and B for blank, unless typing. */
function useKeys(session: SteeringSession, steering: Steering) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target?.closest("input, textarea, select, [contenteditable]")) return;
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (!steering.state.lesson_id) return;
      if (["ArrowRight", "PageDown"].includes(event.key)) session.send({ kind: "next" });
      else if (["ArrowLeft", "PageUp"].includes(event.key)) session.send({ kind: "prev" });
      else if (event.key === "b" || event.key === "B")
        session.send({ kind: "blank", on: !steering.state.blank });
      else return;
      event.preventDefault();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [session, steering.state.lesson_id, steering.state.blank]);
}

function statusText(steering: Steering): string {
  if (steering.status === "online") return t("online");
  if (steering.status === "connecting") return t("connecting");
  return t("reconnecting");
}

function deliveryText(steering: Steering): string {
  const last = steering.last;
  switch (delivery(steering)) {
    case "pending":
      return t("pending");
    case "acknowledged":
      return t("acknowledged");
    case "on_board":
      return t("onTheBoard");
    case "expired":
      return t("notSent");
    case "refused":
      return t("refused", { reason: last?.status.state === "refused" ? last.status.message : "" });
    default:
      return boardIsCurrent(steering) ? t("onTheBoard") : "";
  }
}

function Timer({ steering, session }: { steering: Steering; session: SteeringSession }) {
  const [now, setNow] = useState(Date.now());
  const endsAt = steering.state.timer_ends_at;
  useEffect(() => {
    if (!endsAt) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [endsAt]);
  const left = secondsLeft(endsAt, now, 0);
  return (
    <fieldset class="timer">
      <legend>{t("timer")}</legend>
      {TIMER_MINUTES.map((minutes) => (
        <button
          key={minutes}
          type="button"
          onClick={() => session.send({ kind: "timer", seconds: minutes * 60 })}
        >
          {t("minutes", { minutes })}
        </button>
      ))}
      {left !== null && (
        <>
          <span class="timer-left" role="timer">
            {formatCountdown(left)}
          </span>
          <button type="button" onClick={() => session.send({ kind: "timer", seconds: null })}>
            {t("stopTimer")}
          </button>
        </>
      )}
    </fieldset>
  );
}

interface StripProps {
  slides: Slide[];
  lesson: Steering["lesson"];
  index: number;
  onPick: (slide: number) => void;
}

function Strip({ slides, lesson, index, onPick }: StripProps) {
  const next = slides[index + 1];
  return (
    <div class="strip-wrap">
      <p class="up-next">
        <strong>{t("upNext")}: </strong>
        {next ? <SlideLabel slide={next} media={lesson?.media[next.id]} /> : t("lastSlide")}
      </p>
      <ol class="strip" aria-label={t("slides")}>
        {slides.map((slide, i) => (
          <li key={slide.id}>
            <button
              type="button"
              aria-current={i === index ? "true" : undefined}
              onClick={() => onPick(i)}
            >
              <span class="strip-number">{i + 1}</span>
              <SlideLabel slide={slide} media={lesson?.media[slide.id]} />
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}

function SlideLabel({ slide, media }: { slide: Slide; media: string | undefined }) {
  if (slide.kind === "image" && media)
    return <img class="thumb" src={media} alt="" loading="lazy" />;
  return <span class="strip-text">{slideSummary(slide, (page) => t("pdfPage", { page }))}</span>;
}

function Notes({ slide }: { slide: Slide | undefined }) {
  return (
    <section class="notes card" aria-labelledby="notes-title">
      <h3 id="notes-title">{t("speakerNotes")}</h3>
      <p class={slide?.notes ? "" : "muted"}>{slide?.notes ?? t("noNotes")}</p>
    </section>
  );
}

function LessonPicker({
  net,
  openId,
  onOpen,
}: {
  net: Net;
  openId: string | null;
  onOpen: (id: string) => void;
}) {
  const [lessons, setLessons] = useState<Lesson[] | null>(null);
  useEffect(() => {
    const stop = new AbortController();
    net.api
      .retrying(() => net.api.get<Lesson[]>("/api/lessons", { signal: stop.signal }), stop.signal)
      .then(({ data }) => setLessons(data))
      .catch(() => !stop.signal.aborted && setLessons([]));
    return () => stop.abort();
  }, [net]);
  return (
    <section class="card" aria-labelledby="lessons-title">
      <h3 id="lessons-title">{t("lessons")}</h3>
      {lessons === null ? (
        <p class="muted">{t("connecting")}</p>
      ) : lessons.length === 0 ? (
        <p class="muted">{t("noLessons")}</p>
      ) : (
        <ul class="lesson-list">
          {lessons.map((lesson) => (
            <li key={lesson.id}>
              <button
                type="button"
                aria-pressed={lesson.id === openId}
                onClick={() => onOpen(lesson.id)}
              >
                {lesson.title}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
