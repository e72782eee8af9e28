import { callsOf, defaultSeed, expect, fit, openWith, recordTexts, recordedTexts, test } from "./fixtures";

const shot = (name: string) => `test-results/screens/${name}.png`;
const DEFAULT = "foadmk/context-1-MLX-MXFP4";

test("the catalogue shows each model's size and whether it fits before anything is downloaded", async ({ page }) => {
  await openWith(page, "/index.html#/models");
  await expect(page.getByTestId("memory")).toContainText("This computer has 34.4 GB of memory; models may use 20.0 GB (memory available now).");
  const first = page.locator(`[data-repo="${DEFAULT}"]`);
  await expect(first).toContainText("Context-1 (MLX MXFP4)");
  await expect(first).toContainText("Recommended");
  await expect(first).toContainText("11.2 GB download");
  await expect(first.getByTestId("fit")).toHaveAttribute("data-verdict", "fits");
  await expect(first.getByTestId("fit")).toContainText("Fits · needs 12.6 GB at 16,384 tokens · up to 131,072 tokens");
  const dense = page.locator('[data-repo="chromadb/context-1"]');
  await expect(dense.getByTestId("fit")).toHaveAttribute("data-verdict", "doesNotFit");
  await expect(dense.getByRole("button", { name: "Download anyway" })).toBeVisible();
  // The numbers behind the verdict are one click away.
  await dense.getByTestId("fit").locator("summary").click();
  await expect(dense.getByTestId("fit")).toContainText("Does not fit: needs at least 12.2 GB");
  await expect(dense.getByTestId("fit")).toContainText("Weights11.1 GB");
  expect(await callsOf(page, "pull_model")).toEqual([]);
  await page.screenshot({ path: shot("models-catalogue") });
});

test("a download streams progress, installs, and the first model becomes active", async ({ page }) => {
  // The progress lasts a moment (a loaded machine may finish before a poll sees it): recorded.
  await recordTexts(page, `[data-repo="${DEFAULT}"] [data-testid="progress"]`);
  await openWith(page, "/index.html#/models", { pull: { ...defaultSeed.pull, steps: 6 } });
  const row = page.locator(`[data-repo="${DEFAULT}"]`);
  await row.getByRole("button", { name: "Download", exact: true }).click();
  await expect(row).toContainText("Active");
  const progress = await recordedTexts(page);
  expect(progress.length).toBeGreaterThanOrEqual(1);
  for (const line of progress) {
    expect(line).toContain("of 11.2 GB");
    expect(line).toContain("25.0 MB/s");
    expect(line).toContain("left");
  }
  await expect(row).toContainText("11.2 GB on disk");
  await expect(row.getByRole("button", { name: "Show in folder" })).toBeVisible();
  expect(await callsOf(page, "pull_model")).toEqual([expect.objectContaining({ repo: DEFAULT })]);
});

test("pause keeps the download to resume; cancel discards it", async ({ page }) => {
  await openWith(page, "/index.html#/models", { pull: { ...defaultSeed.pull, hangFirst: true } });
  const row = page.locator(`[data-repo="${DEFAULT}"]`);
  await row.getByRole("button", { name: "Download", exact: true }).click();
  await expect(row.getByTestId("progress")).toContainText("8.4 GB of 11.2 GB (75%)");
  await page.screenshot({ path: shot("models-downloading") });
  await row.getByRole("button", { name: "Pause" }).click();
  await expect(row.getByTestId("pending")).toHaveText("Paused · 8.4 GB of 11.2 GB downloaded");
  await row.getByRole("button", { name: "Resume" }).click();
  await expect(row).toContainText("11.2 GB on disk");
  expect((await callsOf(page, "pull_model")).length).toBe(2);

  const dense = page.locator('[data-repo="chromadb/context-1"]');
  await dense.getByRole("button", { name: "Download anyway" }).click();
  await dense.getByRole("button", { name: "Cancel" }).click();
  await expect(dense.getByRole("button", { name: "Download anyway" })).toBeVisible();
  expect(await callsOf(page, "discard_download")).toEqual([{ repo: "chromadb/context-1" }]);
});

test("a download left from the last run is offered to resume, with the reason it stopped", async ({ page }) => {
  const models = defaultSeed.models.map((m) => (m.repo === DEFAULT ? { ...m, pending: { repo: DEFAULT, revision: "main", totalBytes: 11_200_000_000, doneBytes: 3_000_000_000, error: "not enough disk space in /home/test/.cache/huggingface/hub/models--foadmk--context-1-MLX-MXFP4/blobs: the download needs 8200000000 more bytes (8.2 GB) and 1.0 GB are free" } } : m));
  await openWith(page, "/index.html#/models", { models });
  const row = page.locator(`[data-repo="${DEFAULT}"]`);
  await expect(row.getByTestId("pending")).toContainText("not enough disk space");
  await expect(row.getByTestId("pending")).toContainText("3.0 GB of 11.2 GB downloaded");
  await expect(row.getByRole("button", { name: "Resume" })).toBeVisible();
  await page.screenshot({ path: shot("models-resume") });
});

test("installed models can be revealed, activated (with the memory check) and deleted", async ({ page }) => {
  const installed = (repo: string) => ({ repo, commit: "c0ffee", path: `/hub/${repo}`, diskBytes: 11_200_000_000 });
  const models = defaultSeed.models.map((m) => ({ ...m, installed: installed(m.repo), active: m.repo === DEFAULT }));
  await openWith(page, "/index.html#/models", { models });
  const dense = page.locator('[data-repo="chromadb/context-1"]');
  await dense.getByRole("button", { name: "Use" }).click();
  await expect(dense.getByTestId("model-message")).toContainText("Does not fit: needs at least 12.2 GB");
  await dense.getByRole("button", { name: "Use anyway" }).click();
  await expect(dense).toContainText("Active");
  expect(await callsOf(page, "set_active_model")).toEqual([{ repo: "chromadb/context-1", ignoreFit: false }, { repo: "chromadb/context-1", ignoreFit: true }]);

  await dense.getByRole("button", { name: "Show in folder" }).click();
  expect(await callsOf(page, "reveal_model")).toEqual([{ repo: "chromadb/context-1" }]);
  await dense.getByRole("button", { name: "Delete…" }).click();
  await dense.getByRole("button", { name: "Delete 11.2 GB" }).click();
  await expect(dense.getByRole("button", { name: "Download anyway" })).toBeVisible();
  expect(await callsOf(page, "delete_model")).toEqual([{ repo: "chromadb/context-1" }]);
});

test("any Hugging Face repo can be checked and downloaded; a wrong one says why", async ({ page }) => {
  await openWith(page, "/index.html#/models", {
    fits: { ...defaultSeed.fits, "someone/gpt-oss-mlx": fit("someone/gpt-oss-mlx", "fitsShorterContext", 11_000_000_000, 12_000_000_000), "someone/llama": { error: { kind: "model", message: "someone/llama is not a gpt-oss checkpoint: its model type is llama" } } },
  });
  const input = page.getByRole("textbox", { name: "Hugging Face repository" });
  await input.fill("someone/llama");
  await page.getByRole("button", { name: "Check" }).click();
  await expect(page.getByTestId("candidate")).toContainText("Could not check: someone/llama is not a gpt-oss checkpoint: its model type is llama");
  await input.fill("someone/gpt-oss-mlx");
  await page.getByRole("button", { name: "Check" }).click();
  await expect(page.getByTestId("candidate").getByTestId("fit")).toContainText("Fits with a shorter context");
  await page.getByRole("button", { name: "Download 12.0 GB" }).click();
  const row = page.locator('[data-repo="someone/gpt-oss-mlx"]');
  await expect(row).toContainText("11.2 GB on disk");
});

test("a Hugging Face token is saved without being shown", async ({ page }) => {
  await openWith(page, "/index.html#/models");
  await page.getByLabel("Hugging Face token").fill("hf_secret");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("token-note")).toHaveText("Token saved.");
  await expect(page.getByText("A token is saved.")).toBeVisible();
  expect(await callsOf(page, "set_hf_token")).toEqual([{ token: "hf_secret" }]);
  await expect(page.getByText("hf_secret")).toHaveCount(0);
});
