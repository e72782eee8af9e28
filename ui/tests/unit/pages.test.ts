import { describe, expect, it } from "vitest";
import { formatDuration } from "../../src/lib/format";
import { extensionOf, groupByDocument, highlight } from "../../src/features/search/SearchPage";

const hit = (doc: string, chunk: number) => ({ chunkId: `${doc}:${String(chunk)}`, docId: doc, folder: "f", path: `/x/${doc}.md`, chunk, score: 1, text: "t", line: 1, page: 0 });

describe("models page helpers", () => {
  it("durations read at a glance", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(75)).toBe("75 s");
    expect(formatDuration(600)).toBe("10 min");
    expect(formatDuration(7200)).toBe("2.0 h");
  });
});

describe("search page helpers", () => {
  it("groups chunks by document in rank order", () => {
    const groups = groupByDocument([hit("a", 0), hit("b", 3), hit("a", 2)]);
    expect(groups.map((g) => [g.docId, g.hits.map((h) => h.chunk)])).toEqual([["a", [0, 2]], ["b", [3]]]);
  });

  it("marks query words and their longer forms, case-insensitively", () => {
    expect(highlight("Tides follow the Moon; tidal moons.", "moon tide")).toEqual([{ mark: "Tides" }, " follow the ", { mark: "Moon" }, "; tidal ", { mark: "moons" }, "."]);
    // Query syntax in the box is matched as words, never as a regular expression.
    expect(highlight("a+b (cat)", "(cat")).toEqual(["a+b (", { mark: "cat" }, ")"]);
    expect(highlight("text", "")).toEqual(["text"]);
    // Words start a match, and stop words are not marked.
    expect(highlight("Cold mornings in minutes", "trouble in minutes")).toEqual(["Cold mornings in ", { mark: "minutes" }]);
  });

  it("file types come from extensions", () => {
    expect(extensionOf("/a/b/Report.PDF")).toBe("pdf");
    expect(extensionOf("/a/.bashrc")).toBe("");
    expect(extensionOf("/a/Makefile")).toBe("");
  });
});
