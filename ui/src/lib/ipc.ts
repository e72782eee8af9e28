// Streaming and error rendering over the generated contract. Every command, event and type comes
// from ./bindings, generated from Rust (tauri-specta; see src-tauri/tests/bindings.rs): nothing
// here restates a command's name or arguments.
import { Channel } from "@tauri-apps/api/core";
import { commands, events } from "./bindings";
import type * as B from "./bindings";

export { commands, events };

/** A running stream: its final result, and a way to stop it early. */
export interface Stream<T> {
  result: Promise<T>;
  cancel: () => Promise<boolean>;
}

/** Starts a streaming command: it gets a fresh stream id and a channel whose messages go to
 *  `onEvent`; `cancel` asks Rust to stop it (`cancel_stream`). */
function stream<E, T>(start: (id: B.StreamId, channel: Channel<E>) => Promise<T>, onEvent: (e: E) => void): Stream<T> {
  const id: B.StreamId = crypto.randomUUID();
  const channel = new Channel<E>();
  channel.onmessage = onEvent;
  return { result: start(id, channel), cancel: () => commands.cancelStream(id) };
}

export const streams = {
  scanFolder: (id: string, onProgress: (p: B.ScanProgress) => void) =>
    stream((s, c: Channel<B.ScanProgress>) => commands.scanFolder(id, s, c), onProgress),
  indexFolder: (id: string, onProgress: (p: B.IndexProgress) => void) =>
    stream((s, c: Channel<B.IndexProgress>) => commands.indexFolderCmd(id, s, c), onProgress),
  pullModel: (repo: string, onProgress: (p: B.PullProgress) => void) =>
    stream((s, c: Channel<B.PullProgress>) => commands.pullModel(repo, s, c), onProgress),
  chatReply: (id: string, action: B.ReplyAction, allowUnfit: boolean, onEvent: (e: B.ReplyEvent) => void) =>
    stream((s, c: Channel<B.ReplyEvent>) => commands.chatReply(id, action, allowUnfit, s, c), onEvent),
  installUpdate: (onProgress: (p: B.UpdateProgress) => void) =>
    stream((s, c: Channel<B.UpdateProgress>) => commands.installUpdate(s, c), onProgress),
  setLibraryPlace: (place: B.LibraryPlace, connection: B.ChromaConnection | null, onProgress: (p: B.MoveProgress) => void) =>
    stream((s, c: Channel<B.MoveProgress>) => commands.setLibraryPlace(place, connection, s, c), onProgress),
  syncLibraryServer: (onProgress: (p: B.SyncProgress) => void) =>
    stream((s, c: Channel<B.SyncProgress>) => commands.syncLibraryServer(s, c), onProgress),
  askLibrary: (question: string, folder: string | null, budget: number | null, allowUnfit: boolean, onEvent: (e: B.AgentEvent) => void) =>
    stream((s, c: Channel<B.AgentEvent>) => commands.askLibrary(question, folder, budget, allowUnfit, s, c), onEvent),
};

export function isCommandError(e: unknown): e is B.CommandError {
  return typeof e === "object" && e !== null && typeof (e as { kind?: unknown }).kind === "string";
}

/** A sentence for the user. The switch is exhaustive: a new Rust variant fails the type check here. */
/** The technical account behind an error (a transport's or a loader's own words), if it carries
 *  one: shown folded away under the plain sentence, for bug reports. */
export function errorDetail(e: unknown): string | null {
  return isCommandError(e) && e.kind === "model" ? (e.detail ?? null) : null;
}

export function describeError(e: unknown): string {
  if (!isCommandError(e)) {
    return typeof e === "string" ? e : "Something went wrong.";
  }
  switch (e.kind) {
    case "storage":
      return `Fathom could not save its data: ${e.message}`;
    case "unknownFolder":
      return "That folder is no longer in the library.";
    case "notAFolder":
      return `${e.path} is not a readable folder.`;
    case "invalidShortcut":
      return `“${e.shortcut}” is not a shortcut Fathom understands.`;
    case "shortcutUnavailable":
      return `“${e.shortcut}” is taken or not allowed by the system; try another.`;
    case "cancelled":
      return "Stopped.";
    case "window":
      return e.message;
    case "model":
    case "invalid":
      return e.message;
    case "doesNotFit":
      return e.summary;
    case "index":
      return `The search index: ${e.message}`;
    case "chat":
      return e.message;
  }
}

export type {
  Action, AddReport, AgentEvent, ApiStatus, AppInfo, Asked, AvailableUpdate, ChromaConnection, Citation, CommandError, Conversation,
  ConversationSummary, ComputeBackend, Effort, EnginePlace, FitCheck, Folder, FolderStatus, Hit, IndexProgress, IndexReport,
  InstalledModel, LibraryLocation, LibraryPlace, Memory, MemoryInfo, ModelRow, MoveProgress, Part, PullProgress, RankedDocument, ReplyAction, ReplyEvent,
  ReplyStats, RunSummary, SavedRun, ScanProgress, SemanticStatus, Message, ServerSettings, Settings, SettingsView,
  SyncProgress, SyncReport, UpdateCheck, UpdateProgress,
} from "./bindings";
