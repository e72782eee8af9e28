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
  settings: { settings: { quickShortcut: "CommandOrControl+Shift+Space", hfToken: null, activeModel: null, ignoreFit: false, indexHidden: false, modelIdleMinutes: 15, replyMaxTokens: 8192, semanticSearch: true, firstRunDone: true, checkUpdates: true, apiEnabled: false, apiPort: 8484, apiLocalNetwork: false, apiToken: null, apiCorsOrigins: [], engine: "computer", server: { url: "", key: null, model: null }, backend: "auto", libraryPlace: "computer", chroma: { url: "http://localhost:8000", tenant: "default_tenant", database: "default_database", collection: "fathom", token: null }, libraryOrigin: null }, shortcutError: null },
  takenShortcuts: [],
  picked: [],
  memory: { totalBytes: 34_359_738_368, availableBytes: 20_000_000_000, gpuWorkingSetBytes: null, source: "available", budgetBytes: 20_000_000_000 },
  models: [
    { repo: "foadmk/context-1-MLX-MXFP4", name: "Context-1 (MLX MXFP4)", description: "Chroma's agentic-search model, quantized for MLX. About 11 GB. Recommended.", kind: "mlx", default: true, inCatalogue: true, installed: null, pending: null, active: false },
    { repo: "chromadb/context-1", name: "Context-1 (official, BF16)", description: "Dense weights, converted after download.", kind: "denseNeedsConversion", default: false, inCatalogue: true, installed: null, pending: null, active: false },
  ],
  fits: {
    "foadmk/context-1-MLX-MXFP4": fit("foadmk/context-1-MLX-MXFP4", "fits", 11_122_663_680, 11_200_000_000),
    "chromadb/context-1": fit("chromadb/context-1", "doesNotFit", 11_122_663_680, 41_000_000_000),
  },
  pull: { steps: 3, totalBytes: 11_200_000_000, hangFirst: false, error: null },
  index: { steps: 3, files: 1234, bytes: 56_700_000, hang: false },
  statuses: [],
  semantic: { embedder: { state: "ready" }, pass: "upToDate", progress: null, pausedByUser: false, vectors: 0, chunks: 0, failed: [], error: null },
  hits: [],
  conversations: [],
  chat: { reasoning: "The user greets me. Reply briefly.", answer: "Hello! Here is `code` and **bold**.", delayMs: 15, loading: true, doesNotFit: null },
  ask: { delayMs: 20, answer: "" },
};

/** A memory check as the backend reports it. */
export function fit(repo: string, verdict: "fits" | "fitsShorterContext" | "doesNotFit", weights: number, download: number) {
  const total = weights + 1_500_000_000;
  return {
    repo,
    downloadBytes: download,
    diskBytes: download,
    fit: {
      verdict,
      requested: { context: 16384, weightsBytes: weights, kvCacheBytes: 400_000_000, runtimeBytes: 1_100_000_000, totalBytes: total },
      maxContext: verdict === "doesNotFit" ? 0 : verdict === "fits" ? 131072 : 6000,
      modelMaxContext: 131072,
      budgetBytes: verdict === "fits" ? 20_000_000_000 : 10_000_000_000,
      memory: { totalBytes: 34_359_738_368, availableBytes: 20_000_000_000, gpuWorkingSetBytes: null, source: "available" as const },
      summary: verdict === "fits" ? "Fits: needs 12.6 GB at 16384 tokens of context; 20.0 GB available to models here." : "Does not fit: needs at least 12.2 GB (11.1 GB of weights); 10.0 GB available to models here.",
    },
  };
}

/** Opens a page of the built UI with the mock backend seeded. */
export async function openWith(page: Page, path: string, seed: Partial<Seed> = {}) {
  // Passed as JSON text: the seed's types (JSON values among them) are too deep for Playwright's
  // argument typing, and JSON is what crosses into the page anyway.
  await page.addInitScript((json: string) => {
    window.__FATHOM_SEED__ = JSON.parse(json) as Seed;
  }, JSON.stringify({ ...defaultSeed, ...seed }));
  await page.addInitScript({ path: MOCK });
  await page.goto(path);
}

/** Records every text the element matching `selector` shows, as it changes (each may last a
 * moment, too short to poll for); read them back with `recordedTexts`. Call before `openWith`. */
export async function recordTexts(page: Page, selector: string) {
  await page.addInitScript((sel: string) => {
    const seen: string[] = [];
    (window as unknown as { __seen: string[] }).__seen = seen;
    new MutationObserver(() => {
      const text = document.querySelector(sel)?.textContent ?? null;
      if (text !== null && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  }, selector);
}

export async function recordedTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __seen: string[] }).__seen);
}

export async function callsOf(page: Page, cmd: string) {
  const calls = await page.evaluate(() => window.__FATHOM_CALLS__);
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}

export const test = base;
export { expect } from "@playwright/test";
