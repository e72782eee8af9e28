// Indexing runs outlive the Library page, as downloads do: they live here and the page subscribes.
import { useSyncExternalStore } from "react";
import { describeError, isCommandError, streams, type IndexProgress, type IndexReport, type Stream } from "./ipc";

export type Indexing =
  | { state: "running"; progress: IndexProgress | null; stream: Stream<IndexReport> }
  | { state: "paused" }
  | { state: "failed"; message: string }
  | { state: "done"; report: IndexReport };

let runs = new Map<string, Indexing>();
const listeners = new Set<() => void>();

function set(id: string, run: Indexing | null) {
  runs = new Map(runs);
  if (run === null) runs.delete(id);
  else runs.set(id, run);
  for (const l of listeners) l();
}

export function useIndexing(): Map<string, Indexing> {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => {
        listeners.delete(l);
      };
    },
    () => runs,
  );
}

/** Brings a folder's index up to date (only changed files are redone). */
export function startIndexing(id: string, onSettled: () => void) {
  if (runs.get(id)?.state === "running") return;
  const stream = streams.indexFolder(id, (progress) => {
    const r = runs.get(id);
    if (r?.state === "running") set(id, { ...r, progress });
  });
  set(id, { state: "running", progress: null, stream });
  stream.result.then(
    (report) => {
      set(id, { state: "done", report });
      onSettled();
    },
    (e: unknown) => {
      set(id, isCommandError(e) && e.kind === "cancelled" ? { state: "paused" } : { state: "failed", message: describeError(e) });
      onSettled();
    },
  );
}

export async function pauseIndexing(id: string) {
  const r = runs.get(id);
  if (r?.state === "running") await r.stream.cancel();
}

export function forgetIndexing(id: string) {
  set(id, null);
}
