import { callsOf, defaultSeed, expect, openWith, recordTexts, recordedTexts, test } from "./fixtures";
import type { Conversation } from "../../src/lib/bindings";

const shot = (name: string) => `test-results/screens/${name}.png`;

const stored = (id: string, title: string, updatedMs: number, userText: string, answer: string): Conversation => ({
  id,
  title,
  setup: { effort: "medium", date: "2026-11-20" },
  createdMs: updatedMs,
  updatedMs,
  messages: [
    { role: "user", text: userText },
    { role: "assistant", ending: "done", parts: [{ kind: "reasoning", text: "Think." }, { kind: "answer", text: answer }], stats: { promptTokens: 50, cachedTokens: 0, generatedTokens: 12, tokensPerSecond: 30, timeToFirstTokenSeconds: 0.5, seconds: 1 } },
  ],
});

test("a message streams a reply with folded thinking, Markdown and its figures", async ({ page }) => {
  await openWith(page, "/index.html#/chat", { chat: { ...defaultSeed.chat, delayMs: 60 } });
  await page.getByRole("button", { name: "Instructions…" }).click();
  await page.getByRole("textbox", { name: "Instructions" }).fill("Be brief.");
  await page.getByRole("button", { name: "Save instructions" }).click();
  await page.getByRole("textbox", { name: "Message" }).fill("Hello there");
  await page.getByRole("textbox", { name: "Message" }).press("Enter");
  // Shown at once, then the model loads (first use) and the reply streams in.
  await expect(page.getByTestId("message").first()).toContainText("Hello there");
  await expect(page.getByText("Loading the model…")).toBeVisible();
  const live = page.getByTestId("live-reply");
  await expect(live.locator("details.thinking")).toHaveAttribute("open", "");
  await expect(page.getByRole("button", { name: "Stop" })).toBeVisible();
  const reply = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(reply).toHaveCount(1);
  await expect(reply.locator("details.thinking")).not.toHaveAttribute("open", "");
  await expect(reply.locator(".markdown strong")).toHaveText("bold");
  await expect(reply.locator(".markdown code")).toHaveText("code");
  await expect(reply.getByTestId("stats")).toHaveText("18 tokens · 42.5 tok/s · first token 0.31 s");
  await reply.locator("summary").click();
  await expect(reply.locator(".thinking-text")).toHaveText("The user greets me. Reply briefly.");
  await expect(page.getByTestId("conversation")).toHaveCount(1);
  await expect(page.getByTestId("conversation")).toContainText("Hello there");
  await page.screenshot({ path: shot("chat") });
  const sent = await callsOf(page, "chat_reply");
  expect(sent).toEqual([{ id: "c1", action: { kind: "send", text: "Hello there" }, allowUnfit: false }]);
  expect(await callsOf(page, "new_conversation")).toEqual([{ effort: "medium", instructions: "Be brief." }]);
});

test("Stop ends the reply and keeps what came", async ({ page }) => {
  await openWith(page, "/index.html#/chat", { chat: { ...defaultSeed.chat, loading: false, delayMs: 40, answer: "word ".repeat(200) } });
  await page.getByRole("textbox", { name: "Message" }).fill("Tell me everything");
  await page.getByRole("button", { name: "Send" }).click();
  const live = page.getByTestId("live-reply");
  await expect(live.locator(".markdown")).toContainText("word");
  await page.getByRole("button", { name: "Stop" }).click();
  const reply = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(reply).toHaveAttribute("data-ending", "stopped");
  await expect(reply).toContainText("Stopped");
  const words = ((await reply.locator(".markdown").textContent()) ?? "").trim().split(/\s+/).length;
  expect(words).toBeGreaterThan(0);
  expect(words).toBeLessThan(200);
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  expect(await callsOf(page, "cancel_stream")).toHaveLength(1);
});

test("regenerate the last reply, edit an earlier message, copy a reply", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const two: Conversation = stored("a", "Tides", 2, "Why tides?", "The moon.");
  two.messages.push({ role: "user", text: "And spring tides?" }, { role: "assistant", ending: "done", parts: [{ kind: "answer", text: "Full moon." }], stats: null });
  await openWith(page, "/index.html#/chat", { conversations: [two], chat: { ...defaultSeed.chat, loading: false } });
  await page.getByRole("button", { name: "Tides" }).click();
  const messages = page.getByTestId("message");
  await expect(messages).toHaveCount(4);
  // Only the last reply offers Regenerate.
  await expect(page.getByRole("button", { name: "Regenerate" })).toHaveCount(1);
  await messages.nth(3).getByRole("button", { name: "Copy" }).click();
  await expect(messages.nth(3).getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe("Full moon.");

  await page.getByRole("button", { name: "Regenerate" }).click();
  await expect(messages).toHaveCount(4);
  await expect(messages.nth(3)).toContainText("Hello!");
  await messages.nth(0).getByRole("button", { name: "Edit" }).click();
  await page.getByRole("textbox", { name: "Edit message" }).fill("Why do tides happen twice a day?");
  await page.getByRole("button", { name: "Save and reply" }).click();
  await expect(messages).toHaveCount(2);
  await expect(messages.nth(0)).toContainText("twice a day");
  await expect(messages.nth(1)).toContainText("Hello!");
  expect((await callsOf(page, "chat_reply")).map((c) => (c as { action: unknown }).action)).toEqual([{ kind: "regenerate" }, { kind: "edit", index: 0, text: "Why do tides happen twice a day?" }]);
});

test("conversations: search by title and content, rename, change effort, export, delete", async ({ page }) => {
  await openWith(page, "/index.html#/chat", { conversations: [stored("a", "Tides", 2, "Why tides?", "The moon pulls the oceans."), stored("b", "Budget", 1, "Where is the memo?", "In doc 7.")] });
  const items = page.getByTestId("conversation");
  await expect(items).toHaveCount(2);
  await expect(items.nth(0)).toContainText("Tides");
  const search = page.getByRole("searchbox", { name: "Search conversations" });
  await search.fill("oceans");
  await expect(items).toHaveCount(1);
  await expect(items).toContainText("Tides");
  await expect(items.locator(".snippet")).toContainText("oceans");
  await search.fill("budget");
  await expect(items).toHaveCount(1);
  await search.fill("nothing like this");
  await expect(page.getByText("Nothing matches “nothing like this”.")).toBeVisible();
  await search.fill("");
  await expect(items).toHaveCount(2);

  await items.nth(1).getByRole("button", { name: "Rename" }).click();
  await page.getByRole("textbox", { name: "Conversation title" }).fill("Budget memo");
  await page.getByRole("textbox", { name: "Conversation title" }).press("Enter");
  await expect(items.nth(1)).toContainText("Budget memo");

  await page.getByRole("button", { name: "Budget memo" }).click();
  await page.getByRole("combobox", { name: "Reasoning effort" }).selectOption("high");
  expect((await callsOf(page, "set_conversation_setup")).at(-1)).toEqual({ id: "b", effort: "high", instructions: null });
  await page.getByRole("button", { name: "Instructions…" }).click();
  await page.getByRole("textbox", { name: "Instructions" }).fill("Answer in French.");
  await page.getByRole("button", { name: "Save instructions" }).click();
  expect((await callsOf(page, "set_conversation_setup")).at(-1)).toEqual({ id: "b", effort: "high", instructions: "Answer in French." });
  await expect(page.getByRole("button", { name: "Instructions ✓" })).toBeVisible();
  await page.getByRole("button", { name: "Export…" }).click();
  await expect(page.getByText("Saved to /home/test/Documents/conversation.md")).toBeVisible();

  page.once("dialog", (d) => void d.accept());
  await items.nth(1).getByRole("button", { name: "Delete" }).click();
  await expect(items).toHaveCount(1);
  expect(await callsOf(page, "delete_conversation")).toEqual([{ id: "b" }]);
  await expect(page.getByTestId("messages").getByTestId("message")).toHaveCount(0);
});

test("a model that does not fit says why, points to running it on a server, and can be loaded anyway", async ({ page }) => {
  await openWith(page, "/index.html#/chat", { chat: { ...defaultSeed.chat, doesNotFit: "Does not fit: needs at least 12.2 GB; 8.0 GB available to models here." } });
  await page.getByRole("textbox", { name: "Message" }).fill("hi");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("alert")).toContainText("Does not fit: needs at least 12.2 GB");
  await expect(page.getByTestId("message")).toHaveCount(1);
  await expect(page.getByTestId("run-on-server")).toHaveAttribute("href", "#/settings");
  await page.getByRole("button", { name: "Load anyway" }).click();
  await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toContainText("Hello!");
  await expect(page.getByRole("alert")).toHaveCount(0);
  expect((await callsOf(page, "chat_reply")).map((c) => c as { action: unknown; allowUnfit: boolean })).toEqual([
    { id: "c1", action: { kind: "send", text: "hi" }, allowUnfit: false },
    { id: "c1", action: { kind: "regenerate" }, allowUnfit: true },
  ]);
});

test("HTML and script in the model's output are shown inert", async ({ page }) => {
  const answer = 'Look: <img src="https://example.com/x.png" onerror="window.__pwned = 1"> <script>window.__pwned = 2</script> [link](https://example.com)\n\n```html\n<b>not bold</b>\n```';
  await openWith(page, "/index.html#/chat", { chat: { ...defaultSeed.chat, loading: false, answer } });
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.getByRole("textbox", { name: "Message" }).fill("show me");
  await page.getByRole("button", { name: "Send" }).click();
  const reply = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(reply.getByTestId("stats")).toBeVisible();
  await expect(reply.locator("img, script, iframe")).toHaveCount(0);
  await expect(reply.locator("pre code")).toContainText("<b>not bold</b>");
  await expect(reply.locator("a[href^='https']")).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(requests.filter((u) => u.includes("example.com"))).toEqual([]);
});

test("a first load on llama.cpp shows its one-time conversion, then the reply", async ({ page }) => {
  await recordTexts(page, "p.loading");
  await openWith(page, "/index.html#/chat", { chat: { ...defaultSeed.chat, converting: true } });
  await page.getByRole("textbox", { name: "Message" }).fill("Hello there");
  await page.getByRole("textbox", { name: "Message" }).press("Enter");
  const reply = page.locator('[data-testid="message"][data-role="assistant"]');
  await expect(reply).toHaveCount(1);
  await expect(page.getByText(/Preparing the model/)).toHaveCount(0);
  const seen = await recordedTexts(page);
  const steps = seen.filter((t) => t.startsWith("Preparing the model for llama.cpp (once): "));
  expect(steps).toEqual([0, 25, 50, 75, 100].map((p) => `Preparing the model for llama.cpp (once): ${p} % of 11.1 GB…`));
  expect(seen[0]).toBe("Loading the model…");
});
