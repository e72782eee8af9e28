import { describe, expect, it } from "vitest";
import { baseName, describeRejection, formatBytes, formatCount } from "../../src/format";

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
