// A stand-in for the Rust side in page tests: an in-memory backend behind Tauri's own mockIPC,
// seeded per test through `window.__FATHOM_SEED__`. Built as an IIFE and injected before the page
// loads, so it is in place before any Channel is made.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AddReport } from "../../src/bindings/AddReport";
import type { Folder } from "../../src/bindings/Folder";
import type { ScanProgress } from "../../src/bindings/ScanProgress";
import type { SettingsView } from "../../src/bindings/SettingsView";

export interface Seed {
  window: string;
  platform: string;
  folders: Folder[];
  /** Paths that are folders / files on the pretend disk. */
  dirs: string[];
  files: string[];
  scan: { files: number; bytes: number; steps: number; hang: boolean };
  settings: SettingsView;
  /** Shortcuts the pretend system refuses. */
  takenShortcuts: string[];
}

interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

declare global {
  interface Window {
    __FATHOM_SEED__: Seed;
    __FATHOM_CALLS__: Call[];
    __FATHOM_EMIT__: (event: string, payload: unknown) => Promise<unknown>;
    __TAURI_INTERNALS__: {
      runCallback: (id: number, data: unknown) => void;
      invoke: (cmd: string, args?: unknown) => Promise<unknown>;
    };
  }
}

const seed = window.__FATHOM_SEED__;
const calls: Call[] = [];
window.__FATHOM_CALLS__ = calls;
let folders = [...seed.folders];
let settings = seed.settings;
const cancels = new Map<string, () => void>();
let nextId = 1;

interface ChannelArg {
  id: number;
}

function send(channel: ChannelArg, index: number, message: ScanProgress) {
  window.__TAURI_INTERNALS__.runCallback(channel.id, { index, message });
}

async function scan(args: Record<string, unknown>): Promise<ScanProgress> {
  const channel = args.onProgress as ChannelArg;
  const stream = args.stream as string;
  const { files, bytes, steps, hang } = seed.scan;
  for (let i = 1; i <= steps; i += 1) {
    await new Promise((r) => setTimeout(r, 20));
    send(channel, i - 1, { files: Math.round((files * i) / (steps + 1)), bytes: Math.round((bytes * i) / (steps + 1)), unreadable: 0, done: false });
  }
  if (hang) {
    await new Promise<void>((resolve) => cancels.set(stream, resolve));
    cancels.delete(stream);
    throw { kind: "cancelled" };
  }
  return { files, bytes, unreadable: 0, done: true };
}

function add(paths: string[]): AddReport {
  const report: AddReport = { added: [], rejected: [], absorbed: [] };
  for (const path of paths) {
    if (seed.files.includes(path)) report.rejected.push({ path, reason: { kind: "notAFolder" } });
    else if (!seed.dirs.includes(path)) report.rejected.push({ path, reason: { kind: "notFound" } });
    else if (folders.some((f) => f.path === path)) report.rejected.push({ path, reason: { kind: "alreadyInLibrary" } });
    else {
      const folder = { id: `id-${nextId++}`, path, addedAt: 1 };
      folders.push(folder);
      report.added.push(folder);
    }
  }
  return report;
}

mockWindows(seed.window);
mockIPC(
  async (cmd, rawArgs) => {
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: cmd === "scan_folder" ? { id: args.id, stream: args.stream } : args });
    switch (cmd) {
      case "app_info":
        return { version: "0.1.0", dataDir: "/home/test/.local/share/fathom", configDir: "/home/test/.config/fathom", platform: seed.platform };
      case "list_folders":
        return folders;
      case "add_folders":
        return add(args.paths as string[]);
      case "remove_folder": {
        const found = folders.find((f) => f.id === args.id);
        if (!found) throw { kind: "unknownFolder", id: args.id };
        folders = folders.filter((f) => f !== found);
        return found;
      }
      case "scan_folder":
        return scan(args);
      case "cancel_stream": {
        const cancel = cancels.get(args.stream as string);
        cancel?.();
        return cancel !== undefined;
      }
      case "get_settings":
        return settings;
      case "set_quick_shortcut": {
        const shortcut = args.shortcut as string;
        if (seed.takenShortcuts.includes(shortcut)) throw { kind: "shortcutUnavailable", shortcut, message: "already registered" };
        settings = { settings: { quickShortcut: shortcut }, shortcutError: null };
        return settings;
      }
      case "hide_quick_window":
      case "open_main_window":
        return null;
      default:
        throw new Error(`mock backend: unknown command ${cmd}`);
    }
  },
  { shouldMockEvents: true },
);

window.__FATHOM_EMIT__ = (event, payload) => window.__TAURI_INTERNALS__.invoke("plugin:event|emit", { event, payload });
