import { describe, expect, it } from "vitest";
import { baseName, describeRejection, describeSemantic, formatBytes, formatCount } from "../../src/lib/format";
import type { SemanticStatus } from "../../src/lib/bindings";

describe("formatBytes", () => {
  it("uses decimal units and sensible precision", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(11_000_000_000)).toBe("11.0 GB");
    expect(formatBytes(250_000_000)).toBe("250 MB");
  });
});

describe("formatCount", () => {
  it("agrees in number and groups digits", () => {
    expect(formatCount(1, "file", "files")).toBe("1 file");
    expect(formatCount(12345, "file", "files")).toBe("12,345 files");
  });
});

describe("baseName", () => {
  it("takes the last component of POSIX and Windows paths", () => {
    expect(baseName("/home/ana/Notes/")).toBe("Notes");
    expect(baseName("C:\\Users\\ana\\Docs")).toBe("Docs");
  });
});

describe("describeRejection", () => {
  it("explains each reason by name", () => {
    expect(describeRejection({ path: "/a/notes.txt", reason: { kind: "notAFolder" } })).toMatch(/notes\.txt is a file/);
    expect(describeRejection({ path: "/a/b", reason: { kind: "alreadyInLibrary" } })).toBe("b is already in the library.");
    expect(describeRejection({ path: "/a/b/c", reason: { kind: "insideLibraryFolder", folder: "/a/b" } })).toMatch(/covered by b/);
    expect(describeRejection({ path: "/x", reason: { kind: "unreadable", message: "Permission denied" } })).toMatch(/Permission denied/);
    expect(describeRejection({ path: "/gone", reason: { kind: "notFound" } })).toMatch(/no longer exists/);
  });
});

describe("describeSemantic", () => {
  const base: SemanticStatus = { embedder: { state: "ready" }, pass: "upToDate", progress: null, pausedByUser: false, vectors: 10, chunks: 10, failed: [], error: null };
  it("says what the embedder and the pass are doing", () => {
    expect(describeSemantic(base)).toEqual({ text: "Semantic search is on: 10 of 10 passages searchable by meaning.", tone: "ok", done: null });
    expect(describeSemantic({ ...base, embedder: { state: "missing" } }).text).toMatch(/when you add a folder/);
    expect(describeSemantic({ ...base, embedder: { state: "downloading", doneBytes: 5, totalBytes: 10 } }).done).toBe(0.5);
    const embedding = describeSemantic({ ...base, pass: "embedding", vectors: 3, progress: { chunksTotal: 8, chunksDone: 1, etaSeconds: 30 } });
    expect(embedding.text).toBe("Semantic search: reading for meaning… 3 of 10 passages · 30 s left. Word search works meanwhile.");
    expect(embedding.done).toBe(0.125);
    expect(describeSemantic({ ...base, pass: "paused", vectors: 4 }).text).toMatch(/waits while indexing or the model runs: 4 of 10/);
    expect(describeSemantic({ ...base, pass: "paused", pausedByUser: true, vectors: 4 }).text).toMatch(/^Semantic search paused/);
    expect(describeSemantic({ ...base, failed: [{ path: "/a/b.txt", reason: "x" }] }).tone).toBe("warning");
    const failed = describeSemantic({ ...base, embedder: { state: "failed", message: "no connection", detail: "os error 111" } });
    expect(failed.text).toBe("Semantic search is unavailable: no connection. Search matches words meanwhile.");
    expect(failed.detail).toBe("os error 111");
    expect(describeSemantic({ ...base, embedder: { state: "off" } }).tone).toBe("muted");
  });
});

describe("describeSemantic, a failed pass", () => {
  it("says why and what is searchable", () => {
    const s: SemanticStatus = { embedder: { state: "ready" }, pass: "failed", progress: null, pausedByUser: false, vectors: 3, chunks: 10, failed: [], error: "disk full" };
    expect(describeSemantic(s)).toEqual({ text: "Semantic search stopped reading for meaning (disk full); 3 of 10 passages are searchable by meaning.", tone: "warning", done: null });
  });
});
