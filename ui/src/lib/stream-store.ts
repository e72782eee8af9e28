// Streamed work that outlives the page that started it (a download, a folder's indexing): kept
// here, outside React, keyed by what it works on; pages subscribe. Leaving a page does not stop
// the work; only pause or stop does. One helper for every such store.
import { useSyncExternalStore } from "react";
import { describeError, errorDetail, isCommandError, type Stream } from "./ipc";

/** Where one piece of work stands. A cancelled stream is paused: starting it again resumes. */
export type Run<P, R> =
  | { state: "running"; progress: P | null; stream: Stream<R> }
  | { state: "paused" }
  | { state: "failed"; message: string; detail: string | null }
  | { state: "done"; result: R };

export interface StreamStore<P, R> {
  /** The runs, for a component (a React hook: re-renders on every change). */
  use: () => ReadonlyMap<string, Run<P, R>>;
  get: (key: string) => Run<P, R> | undefined;
  /** Starts (or resumes) the work on `key` unless it is running; `onSettled` runs once when it
   *  ends, however it ends. */
  start: (key: string, onSettled: () => void) => void;
  /** Asks a running stream to stop; it ends as paused. */
  pause: (key: string) => Promise<void>;
  /** Asks a running stream to stop and waits until it has ended. */
  stop: (key: string) => Promise<void>;
  forget: (key: string) => void;
}

export function streamStore<P, R>(begin: (key: string, onProgress: (p: P) => void) => Stream<R>): StreamStore<P, R> {
  let runs = new Map<string, Run<P, R>>();
  const listeners = new Set<() => void>();
  const set = (key: string, run: Run<P, R> | null) => {
    runs = new Map(runs);
    if (run === null) runs.delete(key);
    else runs.set(key, run);
    for (const l of listeners) l();
  };
  const subscribe = (l: () => void) => {
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  };
  return {
    use: () => useSyncExternalStore(subscribe, () => runs),
    get: (key) => runs.get(key),
    start(key, onSettled) {
      if (runs.get(key)?.state === "running") return;
      const stream = begin(key, (progress) => {
        const r = runs.get(key);
        if (r?.state === "running" && r.stream === stream) set(key, { ...r, progress });
      });
      set(key, { state: "running", progress: null, stream });
      stream.result.then(
        (result) => {
          set(key, { state: "done", result });
          onSettled();
        },
        (e: unknown) => {
          set(key, isCommandError(e) && e.kind === "cancelled" ? { state: "paused" } : { state: "failed", message: describeError(e), detail: errorDetail(e) });
          onSettled();
        },
      );
    },
    async pause(key) {
      const r = runs.get(key);
      if (r?.state === "running") await r.stream.cancel();
    },
    async stop(key) {
      const r = runs.get(key);
      if (r?.state === "running") {
        await r.stream.cancel();
        await r.stream.result.catch(() => undefined);
      }
    },
    forget: (key) => {
      set(key, null);
    },
  };
}
