import { callsOf, expect, openWith, test } from "./fixtures";

const shot = (name: string) => `test-results/screens/${name}.png`;
const hit = (doc: string, path: string, folder: string, chunk: number, text: string, line = 1, page = 0) => ({ chunkId: `${doc}:${String(chunk)}`, docId: doc, folder, path, chunk, score: 10 - chunk, text, line, page });

const seed = {
  folders: [
    { id: "n", path: "/home/test/Notes", addedAt: 1 },
    { id: "p", path: "/home/test/Papers", addedAt: 2 },
  ],
  hits: [
    hit("d1", "/home/test/Notes/tides.md", "n", 0, "The moon drives the ocean tides twice a day.", 3),
    hit("d1", "/home/test/Notes/tides.md", "n", 1, "Spring tides follow the full moon.", 9),
    hit("d2", "/home/test/Papers/orbits.pdf", "p", 0, "Orbital resonance of the moon and tidal locking.", 1, 4),
  ],
};

test("results come as documents with highlighted snippets, and open the file", async ({ page }) => {
  await openWith(page, "/index.html#/search", seed);
  await page.getByRole("searchbox", { name: "Search the library" }).fill("moon");
  const results = page.getByTestId("result");
  await expect(results).toHaveCount(2);
  await expect(results.nth(0)).toContainText("tides.md");
  await expect(results.nth(0).locator(".snippet")).toHaveCount(2);
  await expect(results.nth(0).locator("mark").first()).toHaveText("moon");
  await expect(results.nth(0)).toContainText("line 3");
  await expect(results.nth(1)).toContainText("page 4");
  await page.screenshot({ path: shot("search") });
  await results.nth(1).getByRole("button", { name: "Open" }).click();
  expect(await callsOf(page, "open_document")).toEqual([{ path: "/home/test/Papers/orbits.pdf" }]);
});

test("folder and file-type filters narrow the results", async ({ page }) => {
  await openWith(page, "/index.html#/search", seed);
  await page.getByRole("searchbox", { name: "Search the library" }).fill("moon");
  await expect(page.getByTestId("result")).toHaveCount(2);
  await page.getByRole("combobox", { name: "File type" }).selectOption("pdf");
  await expect(page.getByTestId("result")).toHaveCount(1);
  await expect(page.getByTestId("result")).toContainText("orbits.pdf");
  await page.getByRole("combobox", { name: "File type" }).selectOption("");
  await page.getByRole("combobox", { name: "Folder" }).selectOption("n");
  await expect(page.getByTestId("result")).toHaveCount(1);
  await expect(page.getByTestId("result")).toContainText("tides.md");
  expect((await callsOf(page, "search_library")).at(-1)).toEqual({ query: "moon", folder: "n", limit: 100 });
});

test("no match says so", async ({ page }) => {
  await openWith(page, "/index.html#/search", seed);
  await page.getByRole("searchbox", { name: "Search the library" }).fill("volcano");
  await expect(page.getByTestId("no-results")).toHaveText("Nothing in your library matches “volcano”.");
});

test("a result's place opens Fathom's reader there", async ({ page }) => {
  await openWith(page, "/index.html#/search", seed);
  await page.getByRole("searchbox", { name: "Search the library" }).fill("spring");
  await page.getByTestId("result").getByRole("button", { name: "line 9" }).click();
  const reader = page.getByRole("dialog", { name: "Reader: tides.md" });
  await expect(reader).toContainText("The moon drives the ocean tides twice a day.");
  await expect(reader).toContainText("Spring tides follow the full moon.");
  await expect(reader.getByTestId("reader-place")).toHaveCount(1);
  await reader.getByRole("button", { name: "Open in its app" }).click();
  expect(await callsOf(page, "open_document")).toEqual([{ path: "/home/test/Notes/tides.md" }]);
  expect(await callsOf(page, "read_document_text")).toEqual([{ path: "/home/test/Notes/tides.md" }]);
  await page.keyboard.press("Escape");
  await expect(reader).toHaveCount(0);
});

test("until every passage has its vector, the Search page says results match words only", async ({ page }) => {
  await openWith(page, "/index.html#/search", {
    ...seed,
    semantic: { embedder: { state: "ready" }, pass: "embedding", progress: { chunksTotal: 10, chunksDone: 3, etaSeconds: 30 }, pausedByUser: false, vectors: 3, chunks: 10, failed: [], error: null },
  });
  const note = page.getByTestId("semantic-note");
  await expect(note).toContainText("reading for meaning… 3 of 10 passages · 30 s left. Word search works meanwhile.");
  await page.evaluate(() => window.__FATHOM_EMIT__("semantic-status-changed", { embedder: { state: "ready" }, pass: "upToDate", progress: null, pausedByUser: false, vectors: 10, chunks: 10, failed: [], error: null }));
  await expect(note).toHaveCount(0);
});
