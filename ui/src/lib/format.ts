import type { Rejection } from "./bindings";
import type { SemanticStatus } from "./bindings";

/** 1536 → "1.5 KB": decimal units, as file managers on macOS and GNOME show them. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit] ?? "B"}`;
}

export function formatCount(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** The last component of a path, for compact lists. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** Why a dropped path was not added, in words. */
export function describeRejection(r: Rejection): string {
  const name = baseName(r.path);
  switch (r.reason.kind) {
    case "notAFolder":
      return `${name} is a file. Drop folders to add them to the library.`;
    case "notFound":
      return `${name} no longer exists.`;
    case "alreadyInLibrary":
      return `${name} is already in the library.`;
    case "insideLibraryFolder":
      return `${name} is already covered by ${baseName(r.reason.folder)}, which is in the library.`;
    case "unreadable":
      return `${name} cannot be read: ${r.reason.message}`;
  }
}

/** "3 min", "45 s": an ETA a person reads at a glance. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${String(Math.max(1, Math.round(seconds)))} s`;
  if (seconds < 5400) return `${String(Math.round(seconds / 60))} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Semantic search's state in one line, with its tone and, while vectors are added, the share done. */
export function describeSemantic(s: SemanticStatus): { text: string; tone: "ok" | "muted" | "warning"; done: number | null; detail?: string | null } {
  const passages = `${s.vectors.toLocaleString("en-US")} of ${formatCount(s.chunks, "passage", "passages")}`;
  switch (s.embedder.state) {
    case "off":
      return { text: "Semantic search is off: search matches words only (BM25).", tone: "muted", done: null };
    case "missing":
      return { text: "Semantic search starts when you add a folder (it downloads a 90 MB model once).", tone: "muted", done: null };
    case "downloading": {
      const { doneBytes, totalBytes } = s.embedder;
      const share = totalBytes > 0 ? doneBytes / totalBytes : 0;
      return { text: `Semantic search: downloading its model… ${totalBytes > 0 ? `${formatBytes(doneBytes)} of ${formatBytes(totalBytes)}` : ""}`.trimEnd(), tone: "muted", done: share };
    }
    case "loading":
      return { text: "Semantic search: loading its model…", tone: "muted", done: null };
    case "failed":
      return { text: `Semantic search is unavailable: ${s.embedder.message.replace(/\.$/, "")}. Search matches words meanwhile.`, tone: "warning", done: null, detail: s.embedder.detail };
    case "ready":
      break;
  }
  switch (s.pass) {
    case "embedding": {
      const p = s.progress;
      const eta = p?.etaSeconds != null ? ` · ${formatDuration(p.etaSeconds)} left` : "";
      const share = p && p.chunksTotal > 0 ? p.chunksDone / p.chunksTotal : null;
      return { text: `Semantic search: reading for meaning… ${passages}${eta}. Word search works meanwhile.`, tone: "muted", done: share };
    }
    case "paused":
      return {
        text: s.pausedByUser ? `Semantic search paused: ${passages} read for meaning.` : `Semantic search waits while indexing or the model runs: ${passages} read for meaning.`,
        tone: "muted",
        done: s.chunks > 0 ? s.vectors / s.chunks : null,
      };
    case "waiting":
      return { text: "Semantic search: loading its model…", tone: "muted", done: null };
    case "failed":
      return { text: `Semantic search stopped reading for meaning (${s.error ?? "unknown error"}); ${passages} are searchable by meaning.`, tone: "warning", done: null };
    case "upToDate": {
      const failed = s.failed.length > 0 ? ` (${formatCount(s.failed.length, "file", "files")} could not be read for meaning)` : "";
      return { text: `Semantic search is on: ${passages} searchable by meaning${failed}.`, tone: s.failed.length > 0 || s.error !== null ? "warning" : "ok", done: null };
    }
  }
}

/** What a first load on llama.cpp shows while it converts the checkpoint (once). */
export function convertingText(doneBytes: number, totalBytes: number): string {
  const share = totalBytes > 0 ? Math.floor((100 * doneBytes) / totalBytes) : 0;
  return `Preparing the model for llama.cpp (once): ${share} % of ${formatBytes(totalBytes)}…`;
}
