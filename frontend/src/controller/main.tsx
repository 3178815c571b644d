// The controller view (`/`): a teacher's laptop or phone.

import { render } from "preact";

import { startApp } from "../app";
import { ControllerApp } from "./ControllerApp";
import "./controller.css";

export async function mount(root: HTMLElement): Promise<void> {
  const net = await startApp();
  render(<ControllerApp net={net} />, root);
}
