import { describe, expect, it } from "vitest";
import { applyDelta, describeStats, replyText } from "../../src/features/chat/chat";
import type { Part, ReplyEvent } from "../../src/lib/ipc";

type Delta = Extract<ReplyEvent, { event: "delta" }>;
const d = (index: number, part: Delta["part"], text: string, tool: string | null = null): Delta => ({ event: "delta", index, part, tool, text });

describe("applyDelta", () => {
  it("grows the current part and starts the next on a new index", () => {
    let parts: Part[] = [];
    for (const delta of [d(0, "reasoning", "Let "), d(0, "reasoning", "me think."), d(1, "toolCall", '{"q":', "search_corpus"), d(1, "toolCall", '"x"}', "search_corpus"), d(2, "answer", "Done")]) {
      parts = applyDelta(parts, delta);
    }
    expect(parts).toEqual([
      { kind: "reasoning", text: "Let me think." },
      { kind: "toolCall", tool: "search_corpus", arguments: '{"q":"x"}', output: null },
      { kind: "answer", text: "Done" },
    ]);
  });

  it("does not change the array it was given", () => {
    const parts: Part[] = [{ kind: "answer", text: "a" }];
    applyDelta(parts, d(0, "answer", "b"));
    expect(parts).toEqual([{ kind: "answer", text: "a" }]);
  });
});

describe("words around replies", () => {
  it("describes the figures", () => {
    expect(describeStats({ promptTokens: 10, cachedTokens: 0, generatedTokens: 42, tokensPerSecond: 31.46, timeToFirstTokenSeconds: 0.254, seconds: 1 })).toBe("42 tokens · 31.5 tok/s · first token 0.25 s");
    expect(describeStats({ promptTokens: 1, cachedTokens: 0, generatedTokens: 1, tokensPerSecond: 0, timeToFirstTokenSeconds: 1, seconds: 1 })).toMatch(/^1 token ·/);
  });

  it("copies the answer, not the reasoning", () => {
    const reply = { role: "assistant" as const, ending: "done" as const, parts: [{ kind: "reasoning" as const, text: "hmm" }, { kind: "answer" as const, text: "Yes." }] };
    expect(replyText(reply)).toBe("Yes.");
    expect(replyText({ role: "user", text: "hi" })).toBe("hi");
  });
});
