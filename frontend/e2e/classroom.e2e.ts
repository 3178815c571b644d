// A lesson as a class lives it: the board shows a code, a teacher logs in on another node and
// pairs, builds a lesson with a picture and a PDF in the editor, steers it, and the node the
// board is connected to dies mid-lesson. The board keeps its slide and follows the next
// command within seconds; reloading both screens finds them still paired on the same slide.

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { context, launch, snap } from "./browser";
import { cluster, clusterReady, killNode, type ClusterNode } from "./cluster";
import { mediaFiles } from "./fixtures";

const servers = cluster();
const [nodeA, nodeB] = servers.nodes as [ClusterNode, ClusterNode];
const teacher = servers.teacher;
const WITHIN_5_S = { timeout: 5_000, interval: 50 };

let browser: Browser;
/** A node still running (one is killed mid-lesson). */
let alive: ClusterNode = nodeB;
let board: Page;
let controller: Page;

/** The code on the board, digits only. */
async function pairingCode(page: Page): Promise<string> {
  const code = page.getByLabel("Pairing code");
  await code.waitFor();
  return ((await code.textContent()) ?? "").replace(/\D/g, "");
}

async function logIn(page: Page, account = teacher): Promise<void> {
  await page.getByLabel("Username").fill(account.username);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** What the board shows now: "image <sha>", "pdf", "text <words>", "blank" or "none". */
async function onBoard(page: Page): Promise<string> {
  return page.evaluate(() => {
    const stage = document.querySelector(".board");
    if (!stage) return "none";
    if (stage.classList.contains("is-blank")) return "blank";
    const image = document.querySelector<HTMLImageElement>("img.slide-media");
    if (image?.complete && image.naturalWidth > 0) {
      return `image ${/\/media\/([0-9a-f]{64})/.exec(image.src)?.[1] ?? "?"}`;
    }
    const pdf = document.querySelector<HTMLCanvasElement>("canvas.slide-pdf[data-drawn]");
    if (pdf) return `pdf ${pdf.getAttribute("aria-label")}`;
    const text = document.querySelector(".slide-text");
    return text ? `text ${text.textContent}` : "none";
  });
}

/** The node a page's socket is on, from its status element. */
async function socketNode(page: Page): Promise<string | null> {
  return page.getByRole("status").first().getAttribute("data-node");
}

beforeAll(async () => {
  browser = await launch();
  await clusterReady(servers.nodes);
});

afterAll(async () => {
  await browser?.close();
});

describe("a lesson in a real browser", () => {
  let code = "";
  let imageSha = "";

  it("shows a pairing code on a fresh board", async () => {
    board = await (await context(browser, "board")).newPage();
    await board.goto(`${nodeA.url}/board?name=Room%2012`);
    code = await pairingCode(board);
    expect(code).toMatch(/^\d{6}$/);
    await expect.poll(() => board.getByRole("status").getAttribute("data-health")).toBe("online");
    await snap(board, "board-pairing-code");
  });

  it("lets a teacher log in on the other node and pair with the code", async () => {
    controller = await (await context(browser, "laptop")).newPage();
    await controller.goto(`${nodeB.url}/`);
    await snap(controller, "controller-login-laptop");
    await logIn(controller);
    await controller.getByLabel("Board code").fill(code);
    await controller.getByRole("button", { name: "Connect" }).click();
    await controller.getByRole("button", { name: "Next slide" }).waitFor();
    await board.getByText(`${teacher.display_name} connected`).waitFor();
    await expect.poll(() => board.getByLabel("Pairing code").count()).toBe(0);
    await snap(board, "board-paired");
  });

  it("builds a lesson with a picture, a PDF and a text slide in the editor", async () => {
    const editor = await controller.context().newPage();
    await editor.goto(`${nodeB.url}/lessons`);
    await editor.getByRole("button", { name: "New lesson" }).click();
    await editor.getByLabel("Title").fill("Rivers");
    const files = mediaFiles();
    await editor.getByLabel("Add media").setInputFiles([files.image, files.pdf]);
    await expect.poll(() => editor.locator("ol li").count(), { timeout: 20_000 }).toBe(3);
    await editor.getByRole("button", { name: "Add text slide" }).click();
    await editor.getByLabel("Slide text").fill("The Rhine flows north");
    await editor.getByLabel("Notes").last().fill("Ask where the Rhine starts");
    await editor.getByRole("button", { name: "Save" }).click();
    await editor
      .getByRole("status")
      .filter({ hasText: /^Saved$/ })
      .waitFor();
    await snap(editor, "editor-laptop");
    await editor.setViewportSize({ width: 390, height: 844 });
    await snap(editor, "editor-phone");
    await editor.close();
  });

  it("opens the lesson and steers it: next, previous, blank, timer", async () => {
    await controller.reload();
    await controller.getByRole("button", { name: "Rivers" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toMatch(/^image [0-9a-f]{64}$/);
    imageSha = (await onBoard(board)).split(" ")[1] ?? "";
    await expect
      .poll(() => controller.locator(".delivery").getAttribute("data-current"))
      .toBe("true");
    await expect(controller.locator(".delivery").textContent()).resolves.toContain("On the board");
    await snap(board, "board-image-slide");
    await snap(controller, "controller-steering-laptop");

    await controller.getByRole("button", { name: "Next slide" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("pdf Page 1");
    await controller.getByRole("button", { name: "Next slide" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("pdf Page 2");
    await snap(board, "board-pdf-slide");
    await controller.keyboard.press("ArrowRight");
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("text The Rhine flows north");
    await controller.getByText("Ask where the Rhine starts").waitFor();

    // Edited while the class looks at it: the board shows the new text by itself.
    const editor = await controller.context().newPage();
    await editor.goto(`${nodeB.url}/lessons`);
    await editor.getByRole("button", { name: "Rivers" }).click();
    await editor.getByLabel("Slide text").fill("The Rhine flows north to the sea");
    await editor.getByRole("button", { name: "Save" }).click();
    await editor
      .getByRole("status")
      .filter({ hasText: /^Saved$/ })
      .waitFor();
    await editor.close();
    await expect
      .poll(() => onBoard(board), WITHIN_5_S)
      .toBe("text The Rhine flows north to the sea");
    await controller.getByRole("button", { name: "Previous slide" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("pdf Page 2");

    await controller.getByRole("button", { name: "Blank screen" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("blank");
    await controller.getByRole("button", { name: "Blank screen" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("pdf Page 2");

    const pad = await controller.getByRole("application", { name: /Laser pointer/ }).boundingBox();
    if (!pad) throw new Error("no pointer pad");
    await controller.mouse.move(pad.x + pad.width * 0.25, pad.y + pad.height * 0.5);
    await controller.mouse.down();
    await controller.mouse.move(pad.x + pad.width * 0.75, pad.y + pad.height * 0.25, { steps: 5 });
    await board.locator(".laser").waitFor({ timeout: 5_000 });
    await controller.mouse.up();
    await board.locator(".laser").waitFor({ state: "detached", timeout: 5_000 });

    await controller.getByRole("button", { name: "5 min", exact: true }).click();
    await expect
      .poll(() => board.getByRole("timer").textContent(), WITHIN_5_S)
      .toMatch(/^[45]:\d\d$/);
    await snap(board, "board-timer");
    await controller.getByRole("button", { name: "Stop timer" }).click();
    await expect.poll(() => board.getByRole("timer").count(), WITHIN_5_S).toBe(0);
  });

  it("keeps its slide offline and says so within seconds, then comes back", async () => {
    const before = await onBoard(board);
    await board.context().setOffline(true);
    await expect
      .poll(() => board.getByRole("status").getAttribute("data-health"), { timeout: 10_000 })
      .toBe("offline");
    await expect(board.getByRole("status").textContent()).resolves.toMatch(/offline/i);
    expect(await onBoard(board)).toBe(before);
    await snap(board, "board-offline");
    await board.context().setOffline(false);
    await expect
      .poll(() => board.getByRole("status").getAttribute("data-health"), { timeout: 10_000 })
      .toBe("online");
  });

  it("keeps the slide when the board's node dies, and follows the next command within 5 s", async () => {
    const boardNodeId = await socketNode(board);
    const dying = servers.nodes.find((node) => node.node_id === boardNodeId);
    expect(dying, `the board's node ${boardNodeId}`).toBeDefined();
    const killedAt = Date.now();
    killNode(dying as ClusterNode);
    alive = servers.nodes.find((node) => node !== dying) ?? nodeB;

    expect(await onBoard(board)).toBe("pdf Page 2");
    await expect
      .poll(async () => {
        const node = await socketNode(board);
        const health = await board.getByRole("status").getAttribute("data-health");
        return health === "online" && node !== boardNodeId;
      }, WITHIN_5_S)
      .toBe(true);
    const reconnectedAfter = Date.now() - killedAt;
    console.log(`the board was connected to another node ${reconnectedAfter} ms after the kill`);
    expect(reconnectedAfter).toBeLessThan(5_000);
    expect(await onBoard(board)).toBe("pdf Page 2");

    await controller.getByRole("button", { name: "Previous slide" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe("pdf Page 1");
    await controller.getByRole("button", { name: "Previous slide" }).click();
    await expect.poll(() => onBoard(board), WITHIN_5_S).toBe(`image ${imageSha}`);
  });

  it("finds both screens still paired on the same slide after a reload", async () => {
    await board.reload();
    await controller.reload();
    await expect.poll(() => onBoard(board), { timeout: 15_000 }).toBe(`image ${imageSha}`);
    expect(await board.getByLabel("Pairing code").count()).toBe(0);
    await controller.getByText("Slide 1 of 4").waitFor({ timeout: 15_000 });
    await expect
      .poll(() => board.getByRole("status").getAttribute("data-health"), { timeout: 15_000 })
      .toBe("online");
    await snap(board, "board-after-reload");
    await board.setViewportSize({ width: 390, height: 844 });
    await snap(board, "board-phone");
    await board.setViewportSize({ width: 1280, height: 720 });
  });

  it("shows a second controller what the board shows", async () => {
    const boardNodeId = await socketNode(board);
    const alive = servers.nodes.find((node) => node.node_id === boardNodeId);
    const phone = await (await context(browser, "phone")).newPage();
    await phone.goto(`${(alive ?? nodeB).url}/`);
    await logIn(phone);
    await phone.getByRole("button", { name: /Room 12/ }).click();
    await phone.getByRole("button", { name: "Next slide" }).waitFor();
    await expect
      .poll(() => phone.locator(".delivery").getAttribute("data-current"), { timeout: 10_000 })
      .toBe("true");
    await expect(phone.locator(".delivery").textContent()).resolves.toContain("On the board");
    await snap(phone, "controller-steering-phone");
  });
});

describe("a pairing nobody asked for", () => {
  it("is revoked from the board with Not me, and the controller is told", async () => {
    const room = await (await context(browser, "board")).newPage();
    await room.goto(`${alive.url}/board?name=Room%2014`);
    const code = await pairingCode(room);
    const intruder = await (await context(browser, "phone")).newPage();
    await intruder.goto(`${alive.url}/?code=${code}`);
    await logIn(intruder, servers.colleague);
    await expect(intruder.getByLabel("Board code").inputValue()).resolves.toBe(code);
    await intruder.getByRole("button", { name: "Connect" }).click();
    await intruder.getByRole("button", { name: "Next slide" }).waitFor();

    await room.getByRole("button", { name: "Not me" }).click();
    await intruder.getByText("This board was unpaired.").waitFor({ timeout: 10_000 });
    expect(await pairingCode(room)).toMatch(/^\d{6}$/);
    await snap(intruder, "controller-unpaired-phone");
  });
});

describe("in Dutch", () => {
  it("names every control in Dutch with ?lang=nl", async () => {
    const page = await (await context(browser, "phone")).newPage();
    await page.goto(`${alive.url}/?lang=nl`);
    await page.getByLabel("Gebruikersnaam").fill(teacher.username);
    await page.getByLabel("Wachtwoord").fill(teacher.password);
    await page.getByRole("button", { name: "Inloggen" }).click();
    await page.getByRole("button", { name: "Uitloggen" }).waitFor();
    await page.getByRole("button", { name: /Room 12/ }).click();
    for (const name of ["Volgende dia", "Vorige dia", "Scherm zwart"]) {
      await page.getByRole("button", { name, exact: true }).waitFor();
    }
    await snap(page, "controller-dutch-phone");
    await page.goto(`${alive.url}/lessons?lang=nl`);
    await page.getByRole("button", { name: "Nieuwe les" }).click();
    await page.getByLabel("Titel").waitFor();
    await page.getByLabel("Media toevoegen").waitFor();
    await page.getByRole("button", { name: "Tekstdia toevoegen" }).click();
    await page.getByLabel("Diatekst").waitFor();
    await page.getByRole("button", { name: "Opslaan" }).waitFor();
    const boardPage = await (await context(browser, "board")).newPage();
    await boardPage.goto(`${alive.url}/board?lang=nl`);
    await boardPage.getByLabel("Koppelcode").waitFor();
  });
});
