// Connection health as a small dot and a short text in a `role="status"` element: both
// screens show it, never a modal error.

export type Health = "online" | "connecting" | "offline";

interface Props {
  health: Health;
  text: string;
  /** The node in use, for operators (and tests) looking at the page. */
  node?: string | null;
}

export function Status({ health, text, node }: Props) {
  return (
    <div
      class={`status status-${health}`}
      role="status"
      aria-live="polite"
      data-health={health}
      data-node={node ?? undefined}
    >
      <span class="status-dot" aria-hidden="true" />
      <span class="status-text">{text}</span>
    </div>
  );
}
