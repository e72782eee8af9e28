import { callsOf, defaultSeed, expect, openWith, recordTexts, recordedTexts, test } from "./fixtures";

const shot = (name: string) => `test-results/screens/${name}.png`;
const hit = (doc: string, path: string, chunk: number, text: string, line = 1, page = 0) => ({ chunkId: `${doc}:${String(chunk)}`, docId: doc, folder: "n", path, chunk, score: 1, text, line, page });

const withModel = {
  settings: { ...defaultSeed.settings, settings: { ...defaultSeed.settings.settings, activeModel: "foadmk/context-1-MLX-MXFP4" } },
  folders: [{ id: "n", path: "/home/test/Notes", addedAt: 1 }],
  hits: [
    hit("d1", "/home/test/Notes/tides.md", 0, "Spring tides follow the full and new moon.", 3),
    hit("d2", "/home/test/Notes/orbits.pdf", 0, "Tidal locking keeps one face of the moon towards the earth.", 1, 4),
  ],
  ask: { delayMs: 20, answer: 'Strongest at spring tides [1: "Spring tides follow the full and new moon"], which the sun causes [2: "the sun causes tides"].' },
};

test("a question shows the live trace, the budget, ranked documents and an answer with checked citations", async ({ page }) => {
  await openWith(page, "/index.html#/ask", withModel);
  await page.getByRole("searchbox", { name: "Question" }).fill("When are tides strongest?");
  await page.getByRole("button", { name: "Ask" }).click();
  const trace = page.getByTestId("trace");
  await expect(trace).toContainText("Searched “When are tides strongest?” → 2 chunks (80 tokens)");
  await expect(trace).toContainText("Pruned 1 chunk");
  await expect(trace).toContainText('fetch_web: Error: there is no tool named "fetch_web".');
  await expect(page.getByRole("progressbar", { name: "Token budget" })).toHaveAttribute("max", "32768");
  const docs = page.getByTestId("documents").locator("li");
  await expect(docs).toHaveCount(2);
  await expect(docs.nth(0)).toContainText("tides.md");
  await expect(docs.nth(0)).toContainText("Reason 1.");
  await expect(page.getByTestId("answer")).toHaveText("Strongest at spring tides [1], which the sun causes [2].");
  const cites = page.getByTestId("citations").locator("li");
  await expect(cites).toHaveCount(2);
  await expect(cites.nth(0)).toHaveAttribute("data-verified", "true");
  await expect(cites.nth(0)).toContainText("tides.md, line 3");
  await expect(cites.nth(0)).toContainText("✓ in the source");
  await expect(cites.nth(1)).toHaveAttribute("data-verified", "false");
  await expect(cites.nth(1)).toContainText("✗ not found in the source");
  await page.screenshot({ path: shot("ask") });
  // A citation opens the reader with the quote highlighted.
  await cites.nth(0).getByRole("button").click();
  const reader = page.getByRole("dialog", { name: "Reader: tides.md" });
  await expect(reader.getByTestId("reader-quote")).toHaveText("Spring tides follow the full and new moon");
  await reader.getByRole("button", { name: "Close" }).click();
  await cites.nth(1).getByRole("button").click();
  await expect(page.getByRole("dialog", { name: "Reader: orbits.pdf" })).toContainText("The quote is not in this document.");
  await page.keyboard.press("Escape");
  expect(await callsOf(page, "ask_library")).toEqual([{ question: "When are tides strongest?", folder: null, budget: 32768, allowUnfit: false }]);
  // The run is in the history.
  await expect(page.getByTestId("run-item")).toHaveCount(1);
  await expect(page.getByTestId("run-item")).toContainText("When are tides strongest?");
});

test("earlier questions reopen and can be deleted", async ({ page }) => {
  await openWith(page, "/index.html#/ask", withModel);
  await page.getByRole("searchbox", { name: "Question" }).fill("tides?");
  await page.getByRole("combobox", { name: "Folder" }).selectOption("n");
  await page.getByRole("combobox", { name: "Token budget" }).selectOption("16384");
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByTestId("citations")).toBeVisible();
  expect((await callsOf(page, "ask_library"))[0]).toEqual({ question: "tides?", folder: "n", budget: 16384, allowUnfit: false });
  await page.getByRole("searchbox", { name: "Question" }).fill("second");
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByTestId("run-item")).toHaveCount(2);
  await page.getByTestId("run-item").filter({ hasText: "tides?" }).getByRole("button", { name: "tides?", exact: true }).click();
  await expect(page.getByTestId("answer")).toContainText("Strongest at spring tides");
  await page.getByRole("button", { name: "Delete “second”" }).click();
  await expect(page.getByTestId("run-item")).toHaveCount(1);
});

test("Stop ends a run at once", async ({ page }) => {
  await openWith(page, "/index.html#/ask", { ...withModel, ask: { ...withModel.ask, delayMs: 150 } });
  await page.getByRole("searchbox", { name: "Question" }).fill("slow question");
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByTestId("trace")).toContainText("Searched");
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByRole("button", { name: "Ask" })).toBeVisible();
  await expect(page.getByText("Stopped.")).toBeVisible();
  expect(await callsOf(page, "cancel_stream")).toHaveLength(1);
  await expect(page.getByTestId("answer")).toHaveCount(0);
});

test("without a model, Ask says what it needs and offers plain search", async ({ page }) => {
  await openWith(page, "/index.html#/ask", { ...withModel, settings: defaultSeed.settings });
  await expect(page.getByTestId("needs-model")).toContainText("Ask needs Context-1");
  await page.getByRole("searchbox", { name: "Search the library" }).fill("moon");
  await expect(page.getByTestId("result")).toHaveCount(2);
  expect(await callsOf(page, "ask_library")).toEqual([]);
});

test("with the model on a server and none here, Ask runs", async ({ page }) => {
  await openWith(page, "/index.html#/ask", { ...withModel, settings: { ...defaultSeed.settings, settings: { ...defaultSeed.settings.settings, engine: "server", server: { url: "http://gpu-box:8000/v1", key: null, model: null } } } });
  await expect(page.getByRole("searchbox", { name: "Question" })).toBeVisible();
  await expect(page.getByTestId("needs-model")).toHaveCount(0);
});

test("a first run on llama.cpp shows the model's one-time conversion before the search", async ({ page }) => {
  await recordTexts(page, "li.loading");
  await openWith(page, "/index.html#/ask", { ...withModel, chat: { ...defaultSeed.chat, converting: true } });
  await page.getByRole("searchbox", { name: "Question" }).fill("Why do tides happen?");
  await page.getByRole("button", { name: "Ask" }).click();
  await expect(page.getByTestId("answer")).toBeVisible();
  const seen = await recordedTexts(page);
  expect(seen.filter((t) => t.startsWith("Preparing"))).toEqual([0, 50, 100].map((p) => `Preparing the model for llama.cpp (once): ${p} % of 11.1 GB…`));
  // Then the model's reasoning replaces it.
  expect(seen[seen.lastIndexOf("Preparing the model for llama.cpp (once): 100 % of 11.1 GB…") + 1]).toBe("Plan two searches.");
});
