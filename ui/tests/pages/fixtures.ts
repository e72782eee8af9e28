import { test as base, type Page } from "@playwright/test";
import { fileURLToPath } from "node:url";
import type { Seed } from "./mock-backend";

const MOCK = fileURLToPath(new URL("../../test-results/mock/mock-backend.js", import.meta.url));

export const defaultSeed: Seed = {
  window: "main",
  platform: "linux",
  folders: [],
  dirs: ["/home/test/Notes", "/home/test/Papers"],
  files: ["/home/test/todo.txt"],
  scan: { files: 1234, bytes: 56_700_000, steps: 3, hang: false },
  settings: { settings: { quickShortcut: "CommandOrControl+Shift+Space" }, shortcutError: null },
  takenShortcuts: [],
};

/** Opens a page of the built UI with the mock backend seeded. */
export async function openWith(page: Page, path: string, seed: Partial<Seed> = {}) {
  await page.addInitScript((s) => {
    window.__FATHOM_SEED__ = s;
  }, { ...defaultSeed, ...seed });
  await page.addInitScript({ path: MOCK });
  await page.goto(path);
}

export async function callsOf(page: Page, cmd: string) {
  const calls = await page.evaluate(() => window.__FATHOM_CALLS__);
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}

export const test = base;
export { expect } from "@playwright/test";
