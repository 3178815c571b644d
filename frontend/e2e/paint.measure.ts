// Click on the controller to paint on the board: the controller page notes when the click
// event fires, the board page when the frame with the change starts (requestAnimationFrame
// after the DOM changed); both pages share the machine's clock. 50 clicks with both pages
// on one node, then 50 with the controller on the other node.

import type { Page } from "playwright-core";
import { afterAll, it } from "vitest";

import { context, launch } from "./browser";
import { cluster, clusterReady, type ClusterNode } from "./cluster";

const CLICKS = 50;
const servers = cluster();
const [nodeA, nodeB] = servers.nodes as [ClusterNode, ClusterNode];
const browser = await launch();

afterAll(() => browser.close());

interface Timed {
  __times: number[];
  __observer?: MutationObserver;
}

async function lessonOfTwoTextSlides(node: ClusterNode): Promise<void> {
  const form = new URLSearchParams({
    grant_type: "password",
    client_id: "web",
    username: servers.teacher.username,
    password: servers.teacher.password,
  });
  const token = (await (
    await fetch(`${node.url}/oauth/token`, { method: "POST", body: form })
  ).json()) as {
    access_token: string;
  };
  await fetch(`${node.url}/api/lessons`, {
    method: "POST",
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({
      title: "Paint test",
      slides: [
        { kind: "text", text: "Left" },
        { kind: "text", text: "Right" },
      ],
    }),
  });
}

async function controllerOn(node: ClusterNode, code: string | null): Promise<Page> {
  const page = await (await context(browser, "laptop")).newPage();
  await page.goto(`${node.url}/`);
  await page.getByLabel("Username").fill(servers.teacher.username);
  await page.getByLabel("Password").fill(servers.teacher.password);
  await page.getByRole("button", { name: "Log in" }).click();
  if (code) {
    await page.getByLabel("Board code").fill(code);
    await page.getByRole("button", { name: "Connect" }).click();
  } else {
    await page.getByRole("button", { name: /Board/ }).first().click();
  }
  await page.getByRole("button", { name: "Next slide" }).waitFor();
  return page;
}

/** Reloads until the controller's socket is on `nodeId` (hosts are picked at random). */
async function socketOn(page: Page, nodeId: string | null): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const status = page.getByRole("status");
    await page.waitForFunction(() => document.querySelector("[role=status][data-node]") !== null);
    if ((await status.getAttribute("data-node")) === nodeId) break;
    await page.reload();
    await page.getByRole("button", { name: "Next slide" }).waitFor();
  }
  await page.evaluate(() => {
    const timed = window as unknown as Timed;
    timed.__times = [];
    document.addEventListener(
      "click",
      () => timed.__times.push(performance.timeOrigin + performance.now()),
      true,
    );
  });
}

async function clicksToPaint(controller: Page, board: Page): Promise<number[]> {
  await board.evaluate(() => {
    const timed = window as unknown as Timed;
    timed.__times = [];
    const stage = document.querySelector(".board");
    if (!stage) throw new Error("no board on the page");
    timed.__observer?.disconnect();
    timed.__observer = new MutationObserver(() =>
      requestAnimationFrame(() => timed.__times.push(performance.timeOrigin + performance.now())),
    );
    timed.__observer.observe(stage, { attributes: true, attributeFilter: ["data-offset"] });
  });
  await controller.evaluate(() => ((window as unknown as Timed).__times = []));
  for (let i = 0; i < CLICKS; i++) {
    await controller
      .getByRole("button", { name: i % 2 === 0 ? "Next slide" : "Previous slide" })
      .click();
    await board.waitForFunction((n) => (window as unknown as Timed).__times.length >= n, i + 1);
  }
  const clicks = await controller.evaluate(() => (window as unknown as Timed).__times);
  const paints = await board.evaluate(() => (window as unknown as Timed).__times);
  return clicks.map((at, i) => (paints[i] ?? NaN) - at);
}

function report(label: string, latencies: number[]): void {
  const sorted = [...latencies].sort((x, y) => x - y);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  console.log(
    `${label}: median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, ` +
      `min ${at(0).toFixed(1)} ms, max ${at(1).toFixed(1)} ms (${sorted.length} clicks)`,
  );
}

it("measures click-to-paint on one node and across nodes", async () => {
  await clusterReady(servers.nodes);
  await lessonOfTwoTextSlides(nodeA);
  const board = await (await context(browser, "board")).newPage();
  await board.goto(`${nodeA.url}/board`);
  const code = (
    (await board.getByLabel("Pairing code").locator(".pairing-code").textContent()) ?? ""
  ).replace(/\D/g, "");
  const sameNode = await controllerOn(nodeA, code);
  await sameNode.getByRole("button", { name: "Paint test" }).click();
  await board.getByText("Left").waitFor();
  const boardNode = await board.getByRole("status").getAttribute("data-node");
  const otherId = servers.nodes.find((node) => node.node_id !== boardNode)?.node_id ?? null;
  await socketOn(sameNode, boardNode);
  report(`same node (${boardNode})`, await clicksToPaint(sameNode, board));

  const otherNode = await controllerOn(nodeB, null);
  await socketOn(otherNode, otherId);
  report(
    `across nodes (board on ${boardNode}, controller on ${otherId})`,
    await clicksToPaint(otherNode, board),
  );
});
