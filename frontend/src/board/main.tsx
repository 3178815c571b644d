// The board view (`/board`): full screen on the classroom's digiboard.

import { render } from "preact";

import { startApp } from "../app";
import { BoardScreen } from "./BoardScreen";
import { BoardSession } from "./session";
import "./board.css";

export async function mount(root: HTMLElement): Promise<void> {
  document.title = "boardcast";
  const net = await startApp();
  const session = new BoardSession(net, localStorage);
  render(<BoardScreen session={session} />, root);
  await session.start();
}
