import { callsOf, defaultSeed, expect, openWith, test } from "./fixtures";

const shot = (name: string) => `test-results/screens/${name}.png`;

test("every section is reachable and unfinished ones say so plainly", async ({ page }) => {
  await openWith(page, "/index.html");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Library");
  for (const [link, title] of [["Chat", "Chat"], ["Ask", "Ask"], ["Search", "Search"]] as const) {
    await page.getByRole("link", { name: link }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);
    await expect(page.getByTestId("not-available")).toContainText("not available in this version");
    await expect(page.getByRole("link", { name: link })).toHaveAttribute("aria-current", "page");
  }
  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByTestId("shortcut")).toHaveText("Ctrl+Shift+Space");
  await page.screenshot({ path: shot("settings") });
});

test("keyboard shortcuts switch sections", async ({ page }) => {
  await openWith(page, "/index.html");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Library");
  await page.keyboard.press("Control+1");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Chat");
  await page.keyboard.press("Control+3");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Search");
  await page.keyboard.press("Control+Comma");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Settings");
  // Plain digits are typing, not navigation.
  await page.keyboard.press("2");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Settings");
});

test("library lists folders and streams each folder's count to completion", async ({ page }) => {
  await openWith(page, "/index.html#/library", { folders: [{ id: "a", path: "/home/test/Notes", addedAt: 1 }] });
  const row = page.getByTestId("folder");
  await expect(row).toContainText("Notes");
  await expect(row.getByTestId("scan")).toHaveAttribute("data-state", "done");
  await expect(row.getByTestId("scan")).toHaveText("1,234 files, 56.7 MB");
  await page.screenshot({ path: shot("library") });
});

test("an empty library says so", async ({ page }) => {
  await openWith(page, "/index.html#/library");
  await expect(page.getByTestId("library-empty")).toBeVisible();
});

test("dropping folders and a file adds the folders and explains the file", async ({ page }) => {
  await openWith(page, "/index.html#/chat");
  await page.evaluate(() => window.__FATHOM_EMIT__("tauri://drag-enter", { paths: ["/home/test/Notes"], position: { x: 10, y: 10 } }));
  await expect(page.locator(".drop-overlay")).toBeVisible();
  await page.evaluate(() => window.__FATHOM_EMIT__("tauri://drag-drop", { paths: ["/home/test/Notes", "/home/test/Papers", "/home/test/todo.txt"], position: { x: 10, y: 10 } }));
  // A drop from any page lands on the Library page.
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Library");
  await expect(page.locator(".drop-overlay")).toHaveCount(0);
  await expect(page.getByTestId("folder")).toHaveCount(2);
  await expect(page.getByTestId("add-report")).toContainText("Added 2 folders: Notes, Papers.");
  await expect(page.getByTestId("rejection")).toHaveText("todo.txt is a file. Drop folders to add them to the library.");
  expect(await callsOf(page, "add_folders")).toEqual([{ paths: ["/home/test/Notes", "/home/test/Papers", "/home/test/todo.txt"] }]);

  // Dropping the same folder again is a duplicate.
  await page.evaluate(() => window.__FATHOM_EMIT__("tauri://drag-drop", { paths: ["/home/test/Notes"], position: { x: 10, y: 10 } }));
  await expect(page.getByTestId("rejection")).toHaveText("Notes is already in the library.");
  await expect(page.getByTestId("folder")).toHaveCount(2);
  await page.screenshot({ path: shot("dropped") });
});

test("removing a folder takes it off the list", async ({ page }) => {
  await openWith(page, "/index.html#/library", { folders: [{ id: "a", path: "/home/test/Notes", addedAt: 1 }, { id: "b", path: "/home/test/Papers", addedAt: 2 }] });
  await page.getByRole("button", { name: "Remove Notes from the library" }).click();
  await expect(page.getByTestId("folder")).toHaveCount(1);
  await expect(page.getByTestId("folder")).toContainText("Papers");
  expect(await callsOf(page, "remove_folder")).toEqual([{ id: "a" }]);
});

test("a running count can be stopped, cancelling its own stream", async ({ page }) => {
  await openWith(page, "/index.html#/library", { folders: [{ id: "a", path: "/home/test/Notes", addedAt: 1 }], scan: { files: 100, bytes: 1000, steps: 2, hang: true } });
  const scan = page.getByTestId("scan");
  await expect(scan).toContainText("Counting… 67 files");
  await scan.getByRole("button", { name: "Stop" }).click();
  await expect(scan).toHaveAttribute("data-state", "stopped");
  const [started] = await callsOf(page, "scan_folder");
  const cancels = await callsOf(page, "cancel_stream");
  expect(cancels).toContainEqual({ stream: started?.stream });
  await scan.getByRole("button", { name: "Count again" }).click();
  await expect(scan).toContainText("Counting…");
});

test("the shortcut is recorded from a key press and saved", async ({ page }) => {
  await openWith(page, "/index.html#/settings");
  await page.getByTestId("change-shortcut").click();
  await page.getByTestId("shortcut-recorder").press("Control+Alt+KeyK");
  await expect(page.getByTestId("shortcut")).toHaveText("Ctrl+Alt+K");
  await expect(page.getByTestId("settings-message")).toHaveText("Quick query now opens with Ctrl+Alt+K.");
  expect(await callsOf(page, "set_quick_shortcut")).toEqual([{ shortcut: "CommandOrControl+Alt+K" }]);
});

test("a shortcut the system refuses is explained and the old one stays", async ({ page }) => {
  await openWith(page, "/index.html#/settings", { takenShortcuts: ["CommandOrControl+Alt+K"], platform: "macos" });
  await expect(page.getByTestId("shortcut")).toHaveText("⌘⇧Space");
  await page.getByTestId("change-shortcut").click();
  await page.getByTestId("shortcut-recorder").press("Meta+Alt+KeyK");
  await expect(page.getByTestId("settings-message")).toHaveText("“CommandOrControl+Alt+K” is taken or not allowed by the system; try another.");
  await expect(page.getByTestId("shortcut")).toHaveText("⌘⇧Space");
});

test("a saved shortcut that could not be registered is reported", async ({ page }) => {
  await openWith(page, "/index.html#/settings", { settings: { settings: { ...defaultSeed.settings.settings }, shortcutError: "already registered" } });
  await expect(page.getByTestId("shortcut-error")).toContainText("already registered");
});

test("the quick window hides on Escape and opens the main window on request", async ({ page }) => {
  await openWith(page, "/quick.html", { window: "quick", folders: [{ id: "a", path: "/home/test/Notes", addedAt: 1 }] });
  await expect(page.getByTestId("quick-input")).toBeFocused();
  await expect(page.getByTestId("quick-status")).toContainText("Your library has 1 folder.");
  await page.screenshot({ path: shot("quick") });
  await page.keyboard.press("Escape");
  await page.getByRole("button", { name: "Open Fathom" }).click();
  expect((await page.evaluate(() => window.__FATHOM_CALLS__)).map((c) => c.cmd).filter((c) => c !== "list_folders")).toEqual(["hide_quick_window", "open_main_window"]);
});

test("light and dark themes follow the system", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await openWith(page, "/index.html");
  const light = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(light).toBe("rgb(247, 248, 250)");
  expect(dark).toBe("rgb(20, 24, 29)");
  await page.screenshot({ path: shot("dark") });
});

test("the built page loads nothing from outside the app", async ({ page }) => {
  const external: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("http://127.0.0.1:4173/")) external.push(r.url());
  });
  await openWith(page, "/index.html");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Library");
  expect(external).toEqual([]);
});
