import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";
import { commands, describeError, streams } from "../../src/lib/ipc";

afterEach(() => {
  clearMocks();
});

describe("commands", () => {
  it("send their arguments under the names Rust expects", async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return { added: [], rejected: [], absorbed: [] };
    });
    await commands.addFolders(["/a", "/b"]);
    expect(seen).toEqual([["add_folders", { paths: ["/a", "/b"] }]]);
  });

  it("reject with the typed error, which describeError explains", async () => {
    mockIPC(() => {
      throw { kind: "invalidShortcut", shortcut: "Ctrl+Nope", message: "bad key" };
    });
    const error: unknown = await commands.setQuickShortcut("Ctrl+Nope").catch((e: unknown) => e);
    expect(describeError(error)).toBe("“Ctrl+Nope” is not a shortcut Fathom understands.");
  });
});

describe("streams", () => {
  it("pass a stream id and channel, and cancel by the same id", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args as Record<string, unknown>]);
      return cmd === "cancel_stream" ? true : { files: 1, bytes: 2, unreadable: 0, done: true };
    });
    const s = streams.scanFolder("f1", () => undefined);
    expect(await s.result).toEqual({ files: 1, bytes: 2, unreadable: 0, done: true });
    expect(await s.cancel()).toBe(true);
    const [scan, cancel] = calls;
    expect(scan?.[0]).toBe("scan_folder");
    expect(scan?.[1].id).toBe("f1");
    expect(typeof scan?.[1].stream).toBe("string");
    expect(cancel).toEqual(["cancel_stream", { stream: scan?.[1].stream }]);
  });
});
