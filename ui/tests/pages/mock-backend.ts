// A stand-in for the Rust side in page tests: an in-memory backend behind Tauri's own mockIPC,
// seeded per test through `window.__FATHOM_SEED__`. Built as an IIFE and injected before the page
// loads, so it is in place before any Channel is made.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AddReport } from "../../src/lib/bindings";
import type { Folder } from "../../src/lib/bindings";
import type { ScanProgress } from "../../src/lib/bindings";
import type { SyncProgress } from "../../src/lib/bindings";
import type { MoveProgress } from "../../src/lib/bindings";
import type { SettingsView } from "../../src/lib/bindings";
import type { CommandError } from "../../src/lib/bindings";
import type { FitCheck } from "../../src/lib/bindings";
import type { MemoryInfo } from "../../src/lib/bindings";
import type { ModelRow } from "../../src/lib/bindings";
import type { PullProgress } from "../../src/lib/bindings";
import type { FolderStatus } from "../../src/lib/bindings";
import type { Hit } from "../../src/lib/bindings";
import type { IndexProgress } from "../../src/lib/bindings";
import type { Conversation } from "../../src/lib/bindings";
import type { ConversationSummary } from "../../src/lib/bindings";
import type { Message } from "../../src/lib/bindings";
import type { ReplyAction } from "../../src/lib/bindings";
import type { ReplyEvent } from "../../src/lib/bindings";
import type { AgentEvent } from "../../src/lib/bindings";
import type { Asked } from "../../src/lib/bindings";
import type { RunSummary } from "../../src/lib/bindings";
import type { SemanticStatus } from "../../src/lib/bindings";
import type { ApiStatus } from "../../src/lib/bindings";

export interface Seed {
  window: string;
  platform: string;
  /** Why models cannot run here (Metal did not start), or nothing. */
  deviceProblem?: string | null;
  folders: Folder[];
  /** Paths that are folders / files on the pretend disk. */
  dirs: string[];
  files: string[];
  scan: { files: number; bytes: number; steps: number; hang: boolean };
  settings: SettingsView;
  /** What the pretend folder chooser returns. */
  picked: string[];
  /** Shortcuts the pretend system refuses. */
  takenShortcuts: string[];
  memory: MemoryInfo;
  models: ModelRow[];
  /** The memory check's answer per repo; a repo not here is "not found". */
  fits: Record<string, FitCheck | { error: CommandError }>;
  /** Downloads: progress steps; each repo's first one waits to be paused when `hangFirst`. */
  pull: { steps: number; totalBytes: number; hangFirst: boolean; error: CommandError | null };
  /** Indexing: progress steps over `files`; waits to be paused when `hang`. */
  index: { steps: number; files: number; bytes: number; hang: boolean };
  statuses: FolderStatus[];
  semantic: SemanticStatus;
  /** The index's chunks: a search returns those containing a query word. */
  hits: Hit[];
  /** Stored conversations, and how the pretend model replies. */
  conversations: Conversation[];
  chat: {
    /** Streamed as reasoning, then answer, a few characters per delta. */
    reasoning: string;
    answer: string;
    /** Milliseconds between deltas. */
    delayMs: number;
    /** The first reply reports loading the model first. */
    loading: boolean;
    /** That first load converts the model for llama.cpp, reported in steps of 25 %. */
    converting?: boolean;
    /** Refuse until `allowUnfit` with this summary (the memory check). */
    doesNotFit: string | null;
  };
  /** Ask: milliseconds between events, and the answer (citations as the model wrote them). */
  ask: { delayMs: number; answer: string };
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
/** Chunks the pretend Chroma server holds. */
let copiedChunks = 0;
let semantic = seed.semantic;
let models = seed.models.map((m) => ({ ...m }));
const pulled = new Set<string>();
const cancels = new Map<string, () => void>();
let nextId = 1;

interface ChannelArg {
  id: number;
}

function send(channel: ChannelArg, index: number, message: ScanProgress | PullProgress | IndexProgress | ReplyEvent | AgentEvent | SyncProgress | MoveProgress) {
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

async function indexFolder(args: Record<string, unknown>) {
  const channel = args.onProgress as ChannelArg;
  const stream = args.stream as string;
  const folder = args.id as string;
  const { steps, files, bytes, hang } = seed.index;
  const run = { cancelled: false, wake: (): void => undefined };
  cancels.set(stream, () => {
    run.cancelled = true;
    run.wake();
  });
  for (let i = 1; i <= steps && !run.cancelled; i += 1) {
    await new Promise((res) => setTimeout(res, 30));
    send(channel, i - 1, { folder, filesTotal: files, filesDone: Math.round((files * i) / (steps + 1)), bytesTotal: bytes, bytesDone: Math.round((bytes * i) / (steps + 1)), failed: 0, etaSeconds: 90 });
  }
  if (hang && !run.cancelled) {
    await new Promise<void>((resolve) => {
      run.wake = resolve;
    });
  }
  cancels.delete(stream);
  if (run.cancelled) throw { kind: "cancelled" };
  return { folder, indexed: files, unchanged: 0, failed: 0, removed: 0, chunks: files * 2, seconds: 1 };
}

function row(repo: string): ModelRow {
  let r = models.find((m) => m.repo === repo);
  if (!r) {
    r = { repo, name: repo, description: null, kind: "mlx", default: false, inCatalogue: false, installed: null, pending: null, active: false };
    models.push(r);
  }
  return r;
}

function fitOf(repo: string): FitCheck {
  const f = seed.fits[repo];
  if (f === undefined) throw { kind: "model", message: `model ${repo} was not found on https://huggingface.co. Check the spelling of the repository id.` };
  if ("error" in f) throw f.error;
  return f;
}

async function pull(args: Record<string, unknown>) {
  const channel = args.onProgress as ChannelArg;
  const stream = args.stream as string;
  const repo = args.repo as string;
  const { steps, totalBytes, hangFirst, error } = seed.pull;
  const first = !pulled.has(repo);
  pulled.add(repo);
  const r = row(repo);
  r.pending = { repo, revision: "main", totalBytes, doneBytes: 0, error: null };
  // Cancellable from the start, as the real stream is.
  const run = { cancelled: false, wake: (): void => undefined };
  cancels.set(stream, () => {
    run.cancelled = true;
    run.wake();
  });
  for (let i = 1; i <= steps && !run.cancelled; i += 1) {
    await new Promise((res) => setTimeout(res, 30));
    const done = Math.round((totalBytes * i) / (steps + 1));
    r.pending.doneBytes = done;
    send(channel, i - 1, { repo, commit: "c0ffee", phase: "downloading", doneBytes: done, totalBytes, bytesPerSecond: 25_000_000, etaSeconds: (totalBytes - done) / 25_000_000, files: [{ path: "model.safetensors", size: totalBytes, done, state: "downloading", note: null }] });
  }
  if (hangFirst && first && !run.cancelled) {
    await new Promise<void>((resolve) => {
      run.wake = resolve;
    });
  }
  cancels.delete(stream);
  if (run.cancelled) throw { kind: "cancelled" };
  if (error !== null) {
    r.pending.error = "message" in error ? error.message : "failed";
    throw error;
  }
  r.pending = null;
  r.installed = { repo, commit: "c0ffee", path: `/home/test/.cache/huggingface/hub/models--${repo.replace("/", "--")}/snapshots/c0ffee`, diskBytes: totalBytes };
  // As the app does: the first model installed becomes the one in use.
  if (!models.some((m) => m.active)) {
    r.active = true;
    settings = { ...settings, settings: { ...settings.settings, activeModel: repo } };
  }
  return r.installed;
}

let conversations: Conversation[] = seed.conversations.map((c) => structuredClone(c));
let modelLoaded = false;
let nextConversation = 1;

function conversation(id: unknown): Conversation {
  const c = conversations.find((x) => x.id === id);
  if (c === undefined) throw { kind: "chat", message: `no conversation ${String(id)}` };
  return c;
}

function summaries(query: string | null): ConversationSummary[] {
  const q = query?.toLowerCase() ?? "";
  const text = (m: Message) => (m.role === "user" ? m.text : m.parts.map((p) => (p.kind === "toolCall" ? p.arguments : p.text)).join("\n"));
  return [...conversations]
    .sort((a, b) => b.updatedMs - a.updatedMs)
    .filter((c) => q === "" || c.title.toLowerCase().includes(q) || c.messages.some((m) => text(m).toLowerCase().includes(q)))
    .map((c) => ({ id: c.id, title: c.title, updatedMs: c.updatedMs, messages: c.messages.length, snippet: q === "" ? null : (c.messages.map(text).find((t) => t.toLowerCase().includes(q)) ?? null) }));
}

async function chatReply(args: Record<string, unknown>): Promise<Conversation> {
  const channel = args.onProgress as ChannelArg;
  const stream = args.stream as string;
  const c = conversation(args.id);
  const action = args.action as ReplyAction;
  if (action.kind === "send") c.messages.push({ role: "user", text: action.text });
  else if (action.kind === "edit") c.messages.splice(action.index, c.messages.length, { role: "user", text: action.text });
  else c.messages.splice(c.messages.map((m) => m.role).lastIndexOf("user") + 1);
  if (c.title === "") c.title = (c.messages.find((m) => m.role === "user") as { text: string } | undefined)?.text.slice(0, 60) ?? "";
  c.updatedMs = Date.now();
  const { reasoning, answer, delayMs, loading, converting, doesNotFit } = seed.chat;
  if (doesNotFit !== null && args.allowUnfit !== true) throw { kind: "doesNotFit", summary: doesNotFit };
  let cancelled = false;
  const stopped = () => cancelled;
  cancels.set(stream, () => {
    cancelled = true;
  });
  let i = 0;
  if (loading && !modelLoaded) {
    send(channel, i++, { event: "loading" });
    await new Promise((res) => setTimeout(res, 400));
    for (let step = 0; converting === true && step <= 4; step++) {
      send(channel, i++, { event: "converting", doneBytes: step * 2_785_000_000, totalBytes: 11_140_000_000 });
      await new Promise((res) => setTimeout(res, 300));
    }
  }
  modelLoaded = true;
  const parts: { kind: "reasoning" | "answer"; text: string }[] = [];
  let generated = 0;
  for (const [index, kind, text] of [[0, "reasoning", reasoning], [1, "answer", answer]] as const) {
    for (let at = 0; at < text.length && !stopped(); at += 4) {
      await new Promise((res) => setTimeout(res, delayMs));
      if (stopped()) break;
      const piece = text.slice(at, at + 4);
      let part = parts.find((p) => p.kind === kind);
      if (part === undefined) {
        part = { kind, text: "" };
        parts.push(part);
      }
      part.text += piece;
      generated += 1;
      send(channel, i++, { event: "delta", index, part: kind, tool: null, text: piece });
    }
  }
  cancels.delete(stream);
  const message: Message = { role: "assistant", parts, ending: stopped() ? "stopped" : "done", stats: { promptTokens: 80, cachedTokens: 60, generatedTokens: generated, tokensPerSecond: 42.5, timeToFirstTokenSeconds: 0.31, seconds: 1.2 } };
  send(channel, i, { event: "done", message });
  c.messages.push(message);
  c.updatedMs = Date.now();
  return structuredClone(c);
}

const runs: { summary: RunSummary; asked: Asked }[] = [];

async function askLibrary(args: Record<string, unknown>) {
  const channel = args.onProgress as ChannelArg;
  const stream = args.stream as string;
  const question = args.question as string;
  let cancelled = false;
  const stopped = () => cancelled;
  cancels.set(stream, () => {
    cancelled = true;
  });
  const chunk = (h: Hit) => ({ chunkId: h.chunkId, docId: h.docId, path: h.path, tokens: 40, line: h.line, page: h.page });
  const docs = [...new Map(seed.hits.map((h) => [h.docId, h])).values()];
  const documents = docs.map((h, i) => ({ docId: h.docId, path: h.path, justification: `Reason ${String(i + 1)}.` }));
  const searched: Asked["run"]["actions"][number] = { kind: "search", query: question, found: seed.hits.map(chunk) };
  const pruned: Asked["run"]["actions"][number] = { kind: "prune", chunkIds: seed.hits.slice(-1).map((h) => h.chunkId), unknown: [] };
  const refused: Asked["run"]["actions"][number] = { kind: "refused", tool: "fetch_web", reason: 'Error: there is no tool named "fetch_web".' };
  const actions = [searched, pruned, refused];
  const script: AgentEvent[] = [
    { event: "turn", turn: 1 },
    // The model's first load on llama.cpp converts it once, before the first reply streams.
    ...(seed.chat.converting === true ? [0, 1, 2].map((half): AgentEvent => ({ event: "reply", reply: { event: "converting", doneBytes: half * 5_570_000_000, totalBytes: 11_140_000_000 } })) : []),
    { event: "reply", reply: { event: "delta", index: 0, part: "reasoning", tool: null, text: "Plan two searches." } },
    { event: "action", action: searched },
    { event: "usage", used: 2_000, total: 32_768 },
    { event: "turn", turn: 2 },
    { event: "action", action: pruned },
    { event: "usage", used: 1_900, total: 32_768 },
    { event: "turn", turn: 3 },
    { event: "action", action: refused },
    { event: "usage", used: 1_950, total: 32_768 },
    { event: "ranked", documents },
    { event: "answering", reply: { event: "delta", index: 0, part: "answer", tool: null, text: seed.ask.answer } },
  ];
  let i = 0;
  for (const e of script) {
    await new Promise((res) => setTimeout(res, seed.ask.delayMs));
    if (stopped()) break;
    send(channel, i++, e);
  }
  cancels.delete(stream);
  const citations = [...seed.ask.answer.matchAll(/\[(\d+): "([^"]+)"\]/g)].map((m) => {
    const n = Number(m[1]);
    const quote = m[2] ?? "";
    const source = documents[n - 1];
    const hit = docs[n - 1];
    const verified = hit !== undefined && seed.hits.some((h) => h.docId === hit.docId && h.text.toLowerCase().includes(quote.toLowerCase()));
    return { number: n, docId: source?.docId ?? "", path: source?.path ?? "", quote, verified, line: verified ? hit.line : 0, page: verified ? hit.page : 0 };
  });
  const asked: Asked = stopped()
    ? { run: { question, documents: [], actions: actions.slice(0, 1), turns: 1, used: 2000, budget: { total: 32768, hardCutoff: 27852, replyReserve: 2048, perCall: 4096 }, ending: "stopped", transcript: [] }, answer: null }
    : {
        run: { question, documents, actions, turns: 3, used: 1950, budget: { total: 32768, hardCutoff: 27852, replyReserve: 2048, perCall: 4096 }, ending: "ranked", transcript: [] },
        answer: { text: seed.ask.answer, citations, reply: { role: "assistant", parts: [{ kind: "answer", text: seed.ask.answer }], ending: "done", stats: null } },
      };
  if (!stopped()) send(channel, i, { event: "answered", answer: asked.answer as NonNullable<Asked["answer"]> });
  const id = `run${String(runs.length + 1)}`;
  runs.unshift({ summary: { id, question, createdMs: Date.now() }, asked });
  return { id, asked };
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

// The local API: on at the port asked for, except 1234, which "someone else" holds.
let tokens = 0;
let apiOrigins: string[] = [];
function apiStatus(enabled: boolean, localNetwork: boolean, port: number): ApiStatus {
  const off: ApiStatus = { enabled, running: false, port, localNetwork, corsOrigins: apiOrigins, rateLimit: 1200, baseUrl: null, mcpUrl: null, token: null, model: null, error: null, clients: [] };
  if (!enabled) return off;
  if (port === 1234) return { ...off, error: `cannot listen on 127.0.0.1:${String(port)}: Address already in use (os error 98)` };
  const token = `fathom-mock-token-${String(tokens)}`;
  const base = `http://127.0.0.1:${String(port)}`;
  return {
    ...off, running: true, baseUrl: `${base}/v1`, mcpUrl: `${base}/mcp`, token, model: "foadmk/context-1-MLX-MXFP4",
    clients: [
      { name: "Python (openai)", language: "python", text: `client = OpenAI(base_url="${base}/v1", api_key="${token}")` },
      { name: "Claude Desktop, Cursor (MCP)", language: "json", text: '{ "mcpServers": { "fathom": { "command": "/usr/bin/fathom", "args": ["mcp"] } } }' },
    ],
  };
}
let localApi = apiStatus(false, false, 8484);

mockWindows(seed.window);
mockIPC(
  async (cmd, rawArgs) => {
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: cmd === "scan_folder" || cmd === "pull_model" ? { id: args.id, repo: args.repo, stream: args.stream } : cmd === "chat_reply" ? { id: args.id, action: args.action, allowUnfit: args.allowUnfit } : cmd === "ask_library" ? { question: args.question, folder: args.folder, budget: args.budget, allowUnfit: args.allowUnfit } : args });
    switch (cmd) {
      case "app_info":
        return { version: "0.1.0", dataDir: "/home/test/.local/share/fathom", configDir: "/home/test/.config/fathom", platform: seed.platform, deviceProblem: seed.deviceProblem ?? null };
      case "found_update":
        return null;
      case "check_for_update":
        return { current: "0.1.0", configured: true, available: { version: "0.2.0", notes: "Faster search.", date: null } };
      case "local_api_status":
        return localApi;
      case "set_local_api":
        localApi = apiStatus(args.enabled as boolean, args.localNetwork as boolean, args.port as number);
        return localApi;
      case "set_api_origins": {
        const list = args.origins as string[];
        const bad = list.find((o) => o !== "*" && !/^https?:\/\/[^/]+\/?$/.test(o));
        if (bad !== undefined) throw { kind: "invalid", message: `"${bad}" is not a web origin (scheme, host and port, like http://localhost:3000)` };
        apiOrigins = list.map((o) => o.replace(/\/$/, ""));
        localApi = { ...localApi, corsOrigins: apiOrigins };
        return localApi;
      }
      case "new_api_token":
        tokens += 1;
        localApi = apiStatus(localApi.enabled, localApi.localNetwork, localApi.port);
        return localApi;
      case "set_check_updates":
        settings = { ...settings, settings: { ...settings.settings, checkUpdates: args.on as boolean } };
        return settings;
      case "install_update": {
        const channel = args.onProgress as { onmessage?: (p: unknown) => void } | undefined;
        channel?.onmessage?.({ doneBytes: 5_000_000, totalBytes: 10_000_000 });
        throw { kind: "model", message: "The update was not installed: the update could not be verified (its signature does not match Fathom's key), so nothing was installed.", detail: "minisign: signature verification failed" };
      }
      case "diagnostics":
        return "Fathom 0.1.0 (linux x86_64)\nMemory: 24.0 GB total\n--- last lines of the log ---\nstarted\n";
      case "list_folders":
        return folders;
      case "add_folders":
        return add(args.paths as string[]);
      case "pick_folders":
        return add(seed.picked);
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
        settings = { settings: { ...settings.settings, quickShortcut: shortcut }, shortcutError: null };
        return settings;
      }
      case "index_folder_cmd":
        return indexFolder(args);
      case "library_status":
        return folders.map((f) => seed.statuses.find((st) => st.folder === f.id) ?? { folder: f.id, documents: 0, chunks: 0, failed: [], needsOcr: [] });
      case "search_library": {
        const words = (args.query as string).toLowerCase().split(/\W+/).filter((w) => w.length > 0);
        return seed.hits.filter((h) => (args.folder === null || h.folder === args.folder) && words.some((w) => h.text.toLowerCase().includes(w)));
      }
      case "open_document":
        return null;
      case "read_document_text": {
        const chunks = seed.hits.filter((h) => h.path === args.path);
        if (chunks.length === 0) throw { kind: "index", message: `${String(args.path)} is not in the index (yet)` };
        return chunks;
      }
      case "semantic_status":
        return semantic;
      case "retry_semantic":
        semantic = { ...semantic, embedder: { state: "loading" } };
        return null;
      case "pause_semantic":
        semantic = { ...semantic, pausedByUser: args.paused as boolean, pass: args.paused === true ? "paused" : "embedding" };
        return null;
      case "set_semantic_search":
        settings = { ...settings, settings: { ...settings.settings, semanticSearch: args.on as boolean } };
        semantic = { ...semantic, embedder: args.on === true ? { state: "loading" } : { state: "off" } };
        return settings;
      case "set_first_run_done":
        settings = { ...settings, settings: { ...settings.settings, firstRunDone: args.done as boolean } };
        return settings;
      case "set_index_hidden":
        settings = { ...settings, settings: { ...settings.settings, indexHidden: args.hidden as boolean } };
        return settings;
      case "memory_info":
        return seed.memory;
      case "list_models":
        return models;
      case "check_fit":
        return fitOf(args.repo as string);
      case "pull_model":
        return pull(args);
      case "discard_download": {
        const r = row(args.repo as string);
        r.pending = null;
        if (!r.inCatalogue && r.installed === null) models = models.filter((m) => m !== r);
        return null;
      }
      case "delete_model": {
        const r = row(args.repo as string);
        const freed = r.installed?.diskBytes ?? 0;
        r.installed = null;
        r.active = false;
        return freed;
      }
      case "reveal_model":
        return null;
      case "set_active_model": {
        const repo = args.repo as string;
        const f = seed.fits[repo];
        if (f !== undefined && !("error" in f) && f.fit.verdict === "doesNotFit" && args.ignoreFit !== true) throw { kind: "doesNotFit", summary: f.fit.summary };
        for (const m of models) m.active = m.repo === repo;
        settings = { ...settings, settings: { ...settings.settings, activeModel: repo } };
        return settings;
      }
      case "set_engine": {
        const server = args.server as SettingsView["settings"]["server"];
        if (args.place === "server" && !/^https?:\/\/[^/]/.test(server.url)) throw { kind: "model", message: `"${server.url}" is not a server address: it must start with http:// or https://` };
        settings = { ...settings, settings: { ...settings.settings, engine: args.place as SettingsView["settings"]["engine"], server } };
        return settings;
      }
      case "set_backend": {
        settings = { ...settings, settings: { ...settings.settings, backend: args.backend as SettingsView["settings"]["backend"] } };
        return settings;
      }
      case "server_models": {
        const server = args.server as SettingsView["settings"]["server"];
        // A pretend server at port 8000 that wants the key "sk-1".
        if (!server.url.includes(":8000")) throw { kind: "model", message: `cannot reach the server at ${server.url}: Connection refused (os error 111). Is it running, and is the address right?` };
        if (server.key !== "sk-1") throw { kind: "model", message: `the server at ${server.url} refused the key (HTTP 401): check the key in Settings` };
        return ["openai/gpt-oss-20b", "chromadb/context-1"];
      }
      case "library_location": {
        const onServer = settings.settings.libraryPlace !== "computer";
        const alone = settings.settings.libraryPlace === "chromaOnly";
        const chunks = seed.statuses.reduce((n, st) => n + st.chunks, 0);
        return {
          place: settings.settings.libraryPlace,
          indexDir: "/home/test/.local/share/fathom/index",
          bytesHere: alone ? 4_096 : 12_345_678,
          chunksHere: alone ? 0 : chunks,
          vectorsHere: alone ? 0 : chunks,
          serverUrl: onServer ? settings.settings.chroma.url : null,
          collection: onServer ? settings.settings.chroma.collection : null,
          chunksOnServer: alone ? chunks : onServer ? copiedChunks : null,
          documentsOnServer: alone ? seed.statuses.reduce((n, st) => n + st.documents, 0) : null,
          serverError: null,
          lastCopy: onServer && copiedChunks > 0 ? { report: { documentsCopied: 2, chunksCopied: copiedChunks, documentsRemoved: 0, documentsWaiting: 1, stopped: false, listed: false, seconds: 0.5 }, error: null } : null,
        };
      }
      case "check_library_server":
      case "set_library_place": {
        const connection = (args.connection ?? settings.settings.chroma) as SettingsView["settings"]["chroma"];
        if (cmd === "check_library_server" || args.place !== "computer") {
          // A pretend Chroma server at port 8000 that wants the token "ck-1".
          if (!connection.url.includes(":8000")) throw { kind: "index", message: `cannot reach the Chroma server at ${connection.url} (the heartbeat): is it running, and is the address right?` };
          if (connection.token !== "ck-1") throw { kind: "index", message: `the Chroma server at ${connection.url} refused the token (opening the collection: AuthError: Unauthorized, HTTP 401): check the token in Settings` };
        }
        if (cmd === "check_library_server") return 0;
        const from = settings.settings.libraryPlace;
        if ((args.place === "chromaOnly") !== (from === "chromaOnly") && args.place !== from) {
          // The library is carried: progress, and a collection named "hang" waits for Stop.
          const channel = args.onProgress as ChannelArg;
          const step = args.place === "chromaOnly" ? "copying" : "readingBack";
          send(channel, 0, { step, done: 10, total: 40 });
          if (connection.collection === "hang") {
            await new Promise<void>((resolve) => cancels.set(args.stream as string, resolve));
            cancels.delete(args.stream as string);
            throw { kind: "cancelled" };
          }
          await new Promise((r) => setTimeout(r, 50));
          send(channel, 1, { step, done: 40, total: 40 });
        }
        settings = { ...settings, settings: { ...settings.settings, libraryPlace: args.place as SettingsView["settings"]["libraryPlace"], chroma: connection, libraryOrigin: "a1b2" } };
        return settings;
      }
      case "sync_library_server": {
        const channel = args.onProgress as ChannelArg;
        send(channel, 0, { chunksDone: 0, chunksTotal: 40 });
        await new Promise((r) => setTimeout(r, 50));
        send(channel, 1, { chunksDone: 40, chunksTotal: 40 });
        copiedChunks = 40;
        return { documentsCopied: 2, chunksCopied: 40, documentsRemoved: 0, documentsWaiting: 1, stopped: false, listed: false, seconds: 0.5 };
      }
      case "set_hf_token": {
        settings = { ...settings, settings: { ...settings.settings, hfToken: (args.token as string | null) ?? null } };
        return settings;
      }
      case "hide_quick_window":
      case "open_main_window":
        return null;
      case "list_conversations":
        return summaries(args.query as string | null);
      case "get_conversation":
        return structuredClone(conversation(args.id));
      case "new_conversation": {
        const c: Conversation = { id: `c${String(nextConversation++)}`, title: "", setup: { effort: args.effort as Conversation["setup"]["effort"], date: "2026-11-27", instructions: (args.instructions as string | null) ?? null }, messages: [], createdMs: Date.now(), updatedMs: Date.now() };
        conversations.push(c);
        return structuredClone(c);
      }
      case "rename_conversation": {
        const c = conversation(args.id);
        c.title = (args.title as string).trim();
        return structuredClone(c);
      }
      case "delete_conversation":
        conversation(args.id);
        conversations = conversations.filter((c) => c.id !== args.id);
        return null;
      case "set_conversation_setup": {
        const c = conversation(args.id);
        c.setup = { ...c.setup, effort: args.effort as Conversation["setup"]["effort"], instructions: (args.instructions as string | null) ?? null };
        return structuredClone(c);
      }
      case "export_conversation":
        conversation(args.id);
        return "/home/test/Documents/conversation.md";
      case "chat_reply":
        return chatReply(args);
      case "ask_library":
        return askLibrary(args);
      case "list_runs":
        return runs.map((r) => r.summary);
      case "get_run": {
        const r = runs.find((x) => x.summary.id === args.id);
        if (r === undefined) throw { kind: "chat", message: "no such run" };
        return r.asked;
      }
      case "delete_run": {
        const at = runs.findIndex((x) => x.summary.id === args.id);
        if (at < 0) throw { kind: "chat", message: "no such run" };
        runs.splice(at, 1);
        return null;
      }
      case "unload_model":
        modelLoaded = false;
        return null;
      case "set_model_idle_minutes":
        settings = { ...settings, settings: { ...settings.settings, modelIdleMinutes: args.minutes as number } };
        return settings;
      default:
        throw new Error(`mock backend: unknown command ${cmd}`);
    }
  },
  { shouldMockEvents: true },
);

window.__FATHOM_EMIT__ = (event, payload) => {
  // The backend's state is where its events come from.
  if (event === "semantic-status-changed") semantic = payload as SemanticStatus;
  return window.__TAURI_INTERNALS__.invoke("plugin:event|emit", { event, payload });
};
