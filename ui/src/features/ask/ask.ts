// The Ask page's logic apart from React: the trace's lines, and citations in the answer text.
import type { Action, Citation } from "../../lib/ipc";
import { baseName } from "../../lib/format";

/** One line of the live trace for a tool call's effect. */
export function describeAction(a: Action): string {
  const chunks = (found: { tokens: number }[]) => {
    const tokens = found.reduce((n, c) => n + c.tokens, 0);
    return `${found.length} chunk${found.length === 1 ? "" : "s"} (${tokens} tokens)`;
  };
  switch (a.kind) {
    case "search":
      return `Searched “${a.query}” → ${chunks(a.found)}`;
    case "grep":
      return `Grepped /${a.pattern}/ → ${chunks(a.found)}`;
    case "read":
      return `Read ${a.found[0] ? baseName(a.found[0].path) : a.docId} → ${chunks(a.found)}`;
    case "prune":
      return `Pruned ${a.chunkIds.length} chunk${a.chunkIds.length === 1 ? "" : "s"}`;
    case "refused":
      return `${a.tool}: ${a.reason}`;
  }
}

const CITATION = /\[\s*(\d+)\s*[:,]\s*["“”'‘]([^"“”]+?)["“”'’]\s*\]/g;

/** The answer with each `[n: "quote"]` shortened to `[n]`; the quotes are listed below it. */
export function withoutQuotes(text: string): string {
  return text.replace(CITATION, (_m, n: string) => `[${n}]`);
}

/** Citations once each (the same quote cited twice is one source line). */
export function uniqueCitations(citations: Citation[]): Citation[] {
  const seen = new Set<string>();
  return citations.filter((c) => {
    const key = `${String(c.number)}\u0000${c.quote}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
