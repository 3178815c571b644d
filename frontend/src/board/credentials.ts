// The board's identity: registered once and kept in local storage, so a reload or a reboot
// of the board PC finds the same board (and its pairings) again. Registration is retried
// until a node answers, with one Idempotency-Key kept beside it, so a retry that reaches
// another node after a timeout gets the same board instead of a second one.

import type { Api } from "../net";

export interface BoardCredentials {
  board_id: string;
  board_secret: string;
}

const KEY = "boardcast.board";
const REGISTRATION_KEY = "boardcast.board.registration";

export function storedCredentials(storage: Storage): BoardCredentials | null {
  try {
    const stored = JSON.parse(storage.getItem(KEY) ?? "null") as Partial<BoardCredentials> | null;
    if (typeof stored?.board_id === "string" && typeof stored.board_secret === "string") {
      return { board_id: stored.board_id, board_secret: stored.board_secret };
    }
  } catch {
    // Unreadable: register again.
  }
  return null;
}

/** The stored credentials, or new ones from `POST /api/boards` (retried until it works). */
export async function boardCredentials(
  api: Api,
  storage: Storage,
  signal?: AbortSignal,
): Promise<BoardCredentials> {
  const stored = storedCredentials(storage);
  if (stored) return stored;
  return register(api, storage, signal);
}

/** The name the board registers with: `?name=Room 12` in its address, if given. */
function boardName(): string | undefined {
  const name = new URLSearchParams(location.search).get("name")?.trim();
  return name ? name.slice(0, 100) : undefined;
}

/** Registers anew (the stored board was removed), replacing what is stored. */
export async function register(
  api: Api,
  storage: Storage,
  signal?: AbortSignal,
): Promise<BoardCredentials> {
  const key = storage.getItem(REGISTRATION_KEY) ?? api.idempotencyKey();
  storage.setItem(REGISTRATION_KEY, key);
  const { data } = await api.retrying(
    () =>
      api.post<BoardCredentials>(
        "/api/boards",
        { json: { name: boardName() } },
        { idempotencyKey: key, anonymous: true, signal },
      ),
    signal,
  );
  storage.setItem(KEY, JSON.stringify(data));
  storage.removeItem(REGISTRATION_KEY);
  return data;
}

/** Forgets the board (after the node said its credentials are no longer valid). */
export function forgetCredentials(storage: Storage): void {
  storage.removeItem(KEY);
}
