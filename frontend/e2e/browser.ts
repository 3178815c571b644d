// Debian's Chromium, headless, driven by playwright-core (no browser is ever downloaded).

import { mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;

export function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Screen sizes the app must work on. */
export const SCREENS = {
  board: { viewport: { width: 1280, height: 720 } },
  laptop: { viewport: { width: 1280, height: 800 } },
  phone: {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  },
} as const;

/** A browser profile of its own (storage, cookies), whose pages' errors reach the log. */
export async function context(
  browser: Browser,
  screen: keyof typeof SCREENS,
): Promise<BrowserContext> {
  const created = await browser.newContext({ ...SCREENS[screen], locale: "en-GB" });
  created.on("page", (page) => {
    page.on("pageerror", (error) => console.error(`[${screen} page error] ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") console.error(`[${screen} console] ${message.text()}`);
    });
  });
  return created;
}

/** Saves a screenshot as a test artifact (look at them as a teacher would). */
export async function snap(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: false });
}
