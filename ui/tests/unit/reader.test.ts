import { describe, expect, it } from "vitest";
import { findQuote, joinChunks, offsetFor } from "../../src/components/reader";
import type { Hit } from "../../src/lib/ipc";

const chunk = (n: number, text: string, line: number, page = 0): Hit => ({ chunkId: `d:${String(n)}`, docId: "d", folder: "f", path: "/n/a.txt", chunk: n, score: 0, text, line, page });

describe("the reader", () => {
  it("joins overlapping chunks back into the text", () => {
    const joined = joinChunks([chunk(1, "brown fox jumps over the lazy dog.", 2), chunk(0, "The quick brown fox", 1)]);
    expect(joined.text).toBe("The quick brown fox jumps over the lazy dog.");
    expect(joined.starts.map((s) => s.at)).toEqual([0, 19]);
  });

  it("finds a quote across whitespace and case, and the place of a line or page", () => {
    const joined = joinChunks([chunk(0, "Line one.\nThe Budget\n  is 5,000 euros.", 1), chunk(1, "Next part on page two.", 3, 2)]);
    const at = findQuote(joined.text, "the budget is 5,000 euros");
    expect(at).not.toBeNull();
    expect(joined.text.slice(...(at as [number, number]))).toBe("The Budget\n  is 5,000 euros");
    expect(findQuote(joined.text, "not there")).toBeNull();
    expect(offsetFor(joined, { line: 5 })).toBe(joined.starts[1]?.at);
    expect(offsetFor(joined, { line: 1 })).toBe(0);
    expect(offsetFor(joined, { page: 2 })).toBe(joined.starts[1]?.at);
    expect(offsetFor(joined, { chunk: 0 })).toBe(0);
  });
});
