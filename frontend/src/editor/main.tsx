// The lesson editor's entry point (`/lessons`), loaded only on that page: it starts the net
// layer and shows the editor. Its styles come with it, so other views never download them.

import "./editor.css";

import { render } from "preact";

import { startApp } from "../app";
import { t } from "../i18n";
import { EditorApp } from "./App";

export async function mount(root: HTMLElement): Promise<void> {
  const net = await startApp();
  document.title = `${t("editLessons")} · ${t("appName")}`;
  render(<EditorApp net={net} />, root);
}
