import { callsOf, defaultSeed, expect, fit, openWith, test } from "./fixtures";

const newUser = { settings: { ...defaultSeed.settings, settings: { ...defaultSeed.settings.settings, firstRunDone: false } } };

test("a new user is walked from the memory check to a first question", async ({ page }) => {
  await openWith(page, "/index.html", {
    ...newUser,
    picked: ["/home/test/Notes"],
    hits: [{ chunkId: "d1:0", docId: "d1", folder: "f1", path: "/home/test/Notes/tides.md", chunk: 0, score: 1, text: "Spring tides follow the full moon.", line: 2, page: 0 }],
  });
  const guide = page.getByTestId("welcome");
  await expect(guide).toHaveAttribute("data-step", "fit");
  await expect(page.getByRole("navigation")).toHaveCount(0);
  await expect(guide.getByTestId("welcome-verdict")).toHaveAttribute("data-verdict", "fits");
  await expect(guide.getByTestId("welcome-verdict")).toContainText("Yes. Context-1 needs about 12.6 GB of memory and this computer can give it 20.0 GB");
  await page.screenshot({ path: "test-results/pages/welcome-fit.png" });
  await guide.getByTestId("welcome-next").click();

  await expect(guide).toHaveAttribute("data-step", "model");
  await guide.getByTestId("welcome-download-start").click();
  await expect(guide.getByTestId("welcome-model-ready")).toContainText("Context-1 (MLX MXFP4) is on this computer and ready.");
  await guide.getByTestId("welcome-next").click();

  await expect(guide).toHaveAttribute("data-step", "folder");
  await guide.getByTestId("welcome-pick").click();
  await expect(guide.getByTestId("welcome-folders")).toContainText("Notes");
  // Added folders are indexed from here, not only from the Library page.
  await expect.poll(async () => (await callsOf(page, "index_folder_cmd")).length).toBeGreaterThan(0);
  await guide.getByTestId("welcome-next").click();

  await expect(guide).toHaveAttribute("data-step", "search");
  await guide.getByRole("searchbox", { name: "Search your documents" }).fill("tides");
  await guide.getByRole("button", { name: "Search" }).click();
  await expect(guide.getByTestId("welcome-hits")).toContainText("tides.md");
  await guide.getByTestId("welcome-next").click();

  await expect(guide).toHaveAttribute("data-step", "ask");
  await guide.getByRole("textbox", { name: "Your question" }).fill("When are spring tides?");
  await guide.getByTestId("welcome-ask").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Ask");
  await expect(page.getByTestId("welcome")).toHaveCount(0);
  await expect(page.getByRole("searchbox", { name: "Question" })).toHaveValue("When are spring tides?");
  // The question is asked at once, on the Ask page, where the run is shown as it goes.
  await expect.poll(async () => (await callsOf(page, "ask_library")).map((c) => c.question)).toEqual(["When are spring tides?"]);
  expect(await callsOf(page, "set_first_run_done")).toEqual([{ done: true }]);
});

test("a machine that cannot run the model is told what still works; the guide can be skipped and shown again", async ({ page }) => {
  await openWith(page, "/index.html", {
    ...newUser,
    fits: { ...defaultSeed.fits, "foadmk/context-1-MLX-MXFP4": fit("foadmk/context-1-MLX-MXFP4", "doesNotFit", 11_122_663_680, 11_200_000_000) },
  });
  const verdict = page.getByTestId("welcome-verdict");
  await expect(verdict).toHaveAttribute("data-verdict", "doesNotFit");
  await expect(verdict).toContainText("Not on this computer");
  await expect(verdict).toContainText("You can still add folders and search them");
  await page.getByTestId("welcome-skip").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Library");
  expect(await callsOf(page, "set_first_run_done")).toEqual([{ done: true }]);

  await page.locator('nav a[data-page="settings"]').click();
  await page.getByTestId("show-welcome").click();
  await expect(page.getByTestId("welcome")).toHaveAttribute("data-step", "fit");
  expect(await callsOf(page, "set_first_run_done")).toEqual([{ done: true }, { done: false }]);
});
