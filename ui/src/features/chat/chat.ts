// The Chat page's logic apart from React: building a reply from streamed deltas, and the words
// shown around replies.
import type { Message, Part, ReplyEvent, ReplyStats } from "../../lib/ipc";

type Delta = Extract<ReplyEvent, { event: "delta" }>;

/** `parts` with one streamed delta applied: a new part starts when the index moves on. */
export function applyDelta(parts: Part[], d: Delta): Part[] {
  const next = [...parts];
  const current = next[d.index];
  if (current === undefined) {
    next[d.index] =
      d.part === "toolCall" ? { kind: "toolCall", tool: d.tool ?? "", arguments: d.text, output: null } : { kind: d.part, text: d.text };
  } else if (current.kind === "toolCall") {
    next[d.index] = { ...current, arguments: current.arguments + d.text };
  } else {
    next[d.index] = { ...current, text: current.text + d.text };
  }
  return next;
}

/** "42 tokens · 31.5 tok/s · first token 0.25 s" */
export function describeStats(s: ReplyStats): string {
  const parts = [`${s.generatedTokens} token${s.generatedTokens === 1 ? "" : "s"}`, `${(s.tokensPerSecond ?? 0).toFixed(1)} tok/s`, `first token ${(s.timeToFirstTokenSeconds ?? 0).toFixed(2)} s`];
  return parts.join(" · ");
}

/** What Copy puts on the clipboard: the answer (or, without one, everything the reply said). */
export function replyText(message: Message): string {
  if (message.role === "user") return message.text;
  const answers = message.parts.filter((p) => p.kind === "answer").map((p) => p.text);
  if (answers.length > 0) return answers.join("\n\n").trim();
  return message.parts
    .map((p) => (p.kind === "toolCall" ? p.arguments : p.text))
    .join("\n\n")
    .trim();
}

export const ENDINGS: Record<string, string | null> = {
  done: null,
  stopped: "Stopped",
  length: "Reached the reply's length limit",
  toolCall: "Asked for a tool, which chat does not offer",
  malformed: "The reply broke the chat format; shown as it came",
};
