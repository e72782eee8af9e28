// The only place the UI talks to Rust: typed wrappers over the app's commands. Types come from
// ./bindings, generated from the Rust types (see src-tauri/tests/bindings.rs).
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AddReport } from "./bindings/AddReport";
import type { AppInfo } from "./bindings/AppInfo";
import type { CommandError } from "./bindings/CommandError";
import type { FitCheck } from "./bindings/FitCheck";
import type { Folder } from "./bindings/Folder";
import type { FolderStatus } from "./bindings/FolderStatus";
import type { Hit } from "./bindings/Hit";
import type { IndexProgress } from "./bindings/IndexProgress";
import type { IndexReport } from "./bindings/IndexReport";
import type { InstalledModel } from "./bindings/InstalledModel";
import type { Memory } from "./bindings/Memory";
import type { ModelRow } from "./bindings/ModelRow";
import type { PullProgress } from "./bindings/PullProgress";
import type { ScanProgress } from "./bindings/ScanProgress";
import type { SettingsView } from "./bindings/SettingsView";
import type { StreamId } from "./bindings/StreamId";
import type { AvailableUpdate } from "./bindings/AvailableUpdate";
import type { UpdateCheck } from "./bindings/UpdateCheck";
import type { UpdateProgress } from "./bindings/UpdateProgress";
import type { Conversation } from "./bindings/Conversation";
import type { ConversationSummary } from "./bindings/ConversationSummary";
import type { Effort } from "./bindings/Effort";
import type { Message } from "./bindings/Message";
import type { Part } from "./bindings/Part";
import type { ReplyAction } from "./bindings/ReplyAction";
import type { ReplyEvent } from "./bindings/ReplyEvent";
import type { ReplyStats } from "./bindings/ReplyStats";
import type { AgentEvent } from "./bindings/AgentEvent";
import type { Asked } from "./bindings/Asked";
import type { Citation } from "./bindings/Citation";
import type { RankedDocument } from "./bindings/RankedDocument";
import type { RunSummary } from "./bindings/RunSummary";
import type { SavedRun } from "./bindings/SavedRun";
import type { Action } from "./bindings/Action";
import type { SemanticStatus } from "./bindings/SemanticStatus";

export const commands = {
  appInfo: () => invoke<AppInfo>("app_info"),
  diagnostics: () => invoke<string>("diagnostics"),
  listFolders: () => invoke<Folder[]>("list_folders"),
  addFolders: (paths: string[]) => invoke<AddReport>("add_folders", { paths }),
  pickFolders: () => invoke<AddReport>("pick_folders"),
  removeFolder: (id: string) => invoke<Folder>("remove_folder", { id }),
  getSettings: () => invoke<SettingsView>("get_settings"),
  setFirstRunDone: (done: boolean) => invoke<SettingsView>("set_first_run_done", { done }),
  checkForUpdate: () => invoke<UpdateCheck>("check_for_update"),
  foundUpdate: () => invoke<AvailableUpdate | null>("found_update"),
  setCheckUpdates: (on: boolean) => invoke<SettingsView>("set_check_updates", { on }),
  restartApp: () => invoke<null>("restart_app"),
  setQuickShortcut: (shortcut: string) => invoke<SettingsView>("set_quick_shortcut", { shortcut }),
  hideQuickWindow: () => invoke<null>("hide_quick_window"),
  openMainWindow: (run?: string) => invoke<null>("open_main_window", { run: run ?? null }),
  memoryInfo: () => invoke<Memory>("memory_info"),
  listModels: () => invoke<ModelRow[]>("list_models"),
  checkFit: (repo: string, context?: number) => invoke<FitCheck>("check_fit", { repo, context: context ?? null }),
  discardDownload: (repo: string) => invoke<null>("discard_download", { repo }),
  deleteModel: (repo: string) => invoke<number>("delete_model", { repo }),
  revealModel: (repo: string) => invoke<null>("reveal_model", { repo }),
  setActiveModel: (repo: string, ignoreFit: boolean) => invoke<SettingsView>("set_active_model", { repo, ignoreFit }),
  setHfToken: (token: string | null) => invoke<SettingsView>("set_hf_token", { token }),
  libraryStatus: () => invoke<FolderStatus[]>("library_status"),
  searchLibrary: (query: string, folder: string | null, limit?: number) => invoke<Hit[]>("search_library", { query, folder, limit: limit ?? null }),
  openDocument: (path: string) => invoke<null>("open_document", { path }),
  readDocumentText: (path: string) => invoke<Hit[]>("read_document_text", { path }),
  setIndexHidden: (hidden: boolean) => invoke<SettingsView>("set_index_hidden", { hidden }),
  semanticStatus: () => invoke<SemanticStatus | null>("semantic_status"),
  retrySemantic: () => invoke<null>("retry_semantic"),
  setSemanticSearch: (on: boolean) => invoke<SettingsView>("set_semantic_search", { on }),
  pauseSemantic: (paused: boolean) => invoke<null>("pause_semantic", { paused }),
  listConversations: (query: string | null) => invoke<ConversationSummary[]>("list_conversations", { query }),
  getConversation: (id: string) => invoke<Conversation>("get_conversation", { id }),
  newConversation: (effort: Effort, instructions: string | null) => invoke<Conversation>("new_conversation", { effort, instructions }),
  renameConversation: (id: string, title: string) => invoke<Conversation>("rename_conversation", { id, title }),
  deleteConversation: (id: string) => invoke<null>("delete_conversation", { id }),
  setConversationSetup: (id: string, effort: Effort, instructions: string | null) => invoke<Conversation>("set_conversation_setup", { id, effort, instructions }),
  exportConversation: (id: string, path: string | null) => invoke<string | null>("export_conversation", { id, path }),
  unloadModel: () => invoke<null>("unload_model"),
  listRuns: () => invoke<RunSummary[]>("list_runs"),
  getRun: (id: string) => invoke<Asked>("get_run", { id }),
  deleteRun: (id: string) => invoke<null>("delete_run", { id }),
  setModelIdleMinutes: (minutes: number) => invoke<SettingsView>("set_model_idle_minutes", { minutes }),
};

/** A running stream: its final result, and a way to stop it early. */
export interface Stream<T> {
  result: Promise<T>;
  cancel: () => Promise<boolean>;
}

/** Starts a streaming command: events arrive on `onEvent`, the command's return value on `result`. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- E types the handler's events
function stream<E, T>(command: string, args: Record<string, unknown>, onEvent: (e: E) => void): Stream<T> {
  const id: StreamId = crypto.randomUUID();
  const channel = new Channel<E>();
  channel.onmessage = onEvent;
  return {
    result: invoke<T>(command, { ...args, stream: id, onProgress: channel }),
    cancel: () => invoke<boolean>("cancel_stream", { stream: id }),
  };
}

export const streams = {
  scanFolder: (id: string, onProgress: (p: ScanProgress) => void) =>
    stream<ScanProgress, ScanProgress>("scan_folder", { id }, onProgress),
  indexFolder: (id: string, onProgress: (p: IndexProgress) => void) =>
    stream<IndexProgress, IndexReport>("index_folder_cmd", { id }, onProgress),
  pullModel: (repo: string, onProgress: (p: PullProgress) => void) =>
    stream<PullProgress, InstalledModel>("pull_model", { repo }, onProgress),
  chatReply: (id: string, action: ReplyAction, allowUnfit: boolean, onEvent: (e: ReplyEvent) => void) =>
    stream<ReplyEvent, Conversation>("chat_reply", { id, action, allowUnfit }, onEvent),
  installUpdate: (onProgress: (p: UpdateProgress) => void) => stream<UpdateProgress, string>("install_update", {}, onProgress),
  askLibrary: (question: string, folder: string | null, budget: number | null, allowUnfit: boolean, onEvent: (e: AgentEvent) => void) =>
    stream<AgentEvent, SavedRun>("ask_library", { question, folder, budget, allowUnfit }, onEvent),
};

export function isCommandError(e: unknown): e is CommandError {
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
      return e.message;
    case "doesNotFit":
      return e.summary;
    case "index":
      return `The search index: ${e.message}`;
    case "chat":
      return e.message;
  }
}

export type { SemanticStatus };
export type { AvailableUpdate, UpdateCheck, UpdateProgress };
export type { Action, AgentEvent, Asked, Citation, RankedDocument, RunSummary, SavedRun };
export type { Conversation, ConversationSummary, Effort, Message, Part, ReplyAction, ReplyEvent, ReplyStats };
export type { AddReport, AppInfo, CommandError, FitCheck, Folder, FolderStatus, Hit, IndexProgress, IndexReport, InstalledModel, Memory, ModelRow, PullProgress, ScanProgress, SettingsView };
