// Indexing runs, which outlive the Library page (and the welcome guide) that start them.
import { streams, type IndexProgress, type IndexReport } from "../lib/ipc";
import { streamStore, type Run } from "../lib/stream-store";

export type Indexing = Run<IndexProgress, IndexReport>;

const store = streamStore<IndexProgress, IndexReport>((id, onProgress) => streams.indexFolder(id, onProgress));

export const useIndexing = store.use;
/** Brings a folder's index up to date (only changed files are redone). */
export const startIndexing = store.start;
export const pauseIndexing = store.pause;
export const forgetIndexing = store.forget;
