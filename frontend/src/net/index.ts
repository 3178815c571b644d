// The net layer as the views use it: one call wires hosts, the API client and sockets to
// the browser's clock, randomness and network, plus the credentials of each role. Views
// import from here; the modules behind it stay testable with fakes.

import { Api, readJson, type Authorization } from "./api";
import type { TeacherAuth } from "./auth";
import { systemClock, type Clock, type TimerId } from "./clock";
import { loadHosts, type Hosts } from "./hosts";
import type { BoardHello } from "./protocol";
import { BoardSocket, type BoardSocketOptions, type HelloSource } from "./socket";
import { browserTransport, browserUuid, connectBrowserSocket } from "./transport";

export { Api, type ApiResponse, type Authorization, type RequestOptions } from "./api";
export type { RequestBody, UploadOptions, UploadProgress } from "./api";
export { AuthError, TeacherAuth, type AuthFailure, type Me } from "./auth";
export type { CommandHandle, CommandStatus, FinalStatus } from "./commands";
export { ApiError, isTemporary, Unreachable } from "./errors";
export type { Hosts } from "./hosts";
export * from "./protocol";
export { BoardSocket, type HelloSource, type SocketStatus } from "./socket";

/** Socket options a view chooses; the rest comes from `Net`. */
export type SocketOptions = Omit<
  BoardSocketOptions,
  "hosts" | "connect" | "clock" | "random" | "uuid"
>;

export interface Net {
  hosts: Hosts;
  api: Api;
  clock: Clock;
  /** A socket for one board (not started yet: call `start()`). */
  socket(options: SocketOptions): BoardSocket;
  /** Stops refreshing the host list. */
  close(): void;
}

/** How often the host list is refreshed from `GET /api/cluster`. */
const CLUSTER_REFRESH_MS = 5 * 60_000;

/**
 * Reads `config.json` (at `configUrl`, beside index.html), falling back to `origin`, and
 * keeps the host list fresh from the cluster while the page is open.
 */
export async function startNet(configUrl: string, origin: string): Promise<Net> {
  const clock = systemClock;
  const random = Math.random;
  const transport = browserTransport;
  const hosts = await loadHosts(() => readJson(transport, clock, configUrl), origin, {
    clock,
    random,
  });
  const api = new Api({ hosts, transport, clock, random, uuid: browserUuid });
  let timer: TimerId;
  const refresh = () => {
    void hosts.refresh(async () => (await api.get("/api/cluster", { anonymous: true })).data);
    timer = clock.setTimeout(refresh, CLUSTER_REFRESH_MS);
  };
  refresh();
  return {
    hosts,
    api,
    clock,
    socket: (options) =>
      new BoardSocket({
        ...options,
        hosts,
        connect: connectBrowserSocket,
        clock,
        random,
        uuid: browserUuid,
      }),
    close: () => clock.clearTimeout(timer),
  };
}

/** A board's HTTP credentials (`Authorization: Board <id>:<secret>`). */
export function boardAuthorization(boardId: string, boardSecret: string): Authorization {
  return {
    header: () => `Board ${boardId}:${boardSecret}`,
    refresh: () => Promise.resolve(false),
  };
}

/** A board's socket credentials. */
export function boardHello(boardId: string, boardSecret: string): HelloSource {
  const hello: BoardHello = {
    type: "hello",
    role: "board",
    board_id: boardId,
    board_secret: boardSecret,
  };
  return { hello: () => Promise.resolve(hello) };
}

/** A controller's socket credentials: a fresh token on every connect, renewed after 4001. */
export function controllerHello(auth: TeacherAuth, pairingId: string): HelloSource {
  return {
    hello: async () => ({
      type: "hello",
      role: "controller",
      access_token: await auth.accessToken(),
      pairing_id: pairingId,
    }),
    refresh: async () => {
      await auth.refresh();
    },
  };
}
