// Model downloads, which outlive the Models page (and the welcome guide) that start them.
import { commands, streams, type InstalledModel, type PullProgress } from "../lib/ipc";
import { streamStore, type Run } from "../lib/stream-store";

export type Download = Run<PullProgress, InstalledModel>;

const store = streamStore<PullProgress, InstalledModel>((repo, onProgress) => streams.pullModel(repo, onProgress));

export const useDownloads = store.use;
/** Starts (or resumes) a download; `onSettled` runs when it ends, however it ends. */
export const startDownload = store.start;
export const pauseDownload = store.pause;
export const forget = store.forget;

/** Stops a download and deletes what it had fetched. */
export async function cancelDownload(repo: string) {
  await store.stop(repo);
  await commands.discardDownload(repo);
  store.forget(repo);
}
