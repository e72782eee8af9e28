// Downloads outlive the page that started them: they live here, outside React, and the Models page
// subscribes. Leaving the page does not pause a download; only Pause or Cancel does.
import { useSyncExternalStore } from "react";
import { commands, describeError, errorDetail, isCommandError, streams, type PullProgress, type Stream, type InstalledModel } from "./ipc";

export type Download =
  | { state: "running"; progress: PullProgress | null; stream: Stream<InstalledModel> }
  | { state: "paused" }
  | { state: "failed"; message: string; detail: string | null }
  | { state: "done"; model: InstalledModel };

let downloads = new Map<string, Download>();
const listeners = new Set<() => void>();

function set(repo: string, d: Download | null) {
  downloads = new Map(downloads);
  if (d === null) downloads.delete(repo);
  else downloads.set(repo, d);
  for (const l of listeners) l();
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => {
    listeners.delete(l);
  };
}

export function useDownloads(): Map<string, Download> {
  return useSyncExternalStore(subscribe, () => downloads);
}

/** Starts (or resumes) a download; `onSettled` runs when it ends, however it ends. */
export function startDownload(repo: string, onSettled: () => void) {
  const current = downloads.get(repo);
  if (current?.state === "running") return;
  const stream = streams.pullModel(repo, (progress) => {
    const d = downloads.get(repo);
    if (d?.state === "running") set(repo, { ...d, progress });
  });
  set(repo, { state: "running", progress: null, stream });
  stream.result.then(
    (model) => {
      set(repo, { state: "done", model });
      onSettled();
    },
    (e: unknown) => {
      set(repo, isCommandError(e) && e.kind === "cancelled" ? { state: "paused" } : { state: "failed", message: describeError(e), detail: errorDetail(e) });
      onSettled();
    },
  );
}

export async function pauseDownload(repo: string) {
  const d = downloads.get(repo);
  if (d?.state === "running") await d.stream.cancel();
}

/** Stops a download and deletes what it had fetched. */
export async function cancelDownload(repo: string) {
  const d = downloads.get(repo);
  if (d?.state === "running") {
    await d.stream.cancel();
    await d.stream.result.catch(() => undefined);
  }
  await commands.discardDownload(repo);
  set(repo, null);
}

export function forget(repo: string) {
  set(repo, null);
}
