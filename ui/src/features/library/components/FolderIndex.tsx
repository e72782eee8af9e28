import { type FolderStatus } from "../../../lib/ipc";
import { formatBytes, formatCount, formatDuration } from "../../../lib/format";
import { type Indexing } from "../../../stores/indexing";

/** The folder's index: progress while indexing, counts when done. */
export function FolderIndex({ run, status, onPause, onResume }: { run: Indexing | undefined; status: FolderStatus | undefined; onPause: () => void; onResume: () => void }) {
  const counts = status ? `${formatCount(status.documents, "document", "documents")}, ${formatCount(status.chunks, "chunk", "chunks")}` : "";
  if (run?.state === "running") {
    const p = run.progress;
    return (
      <div className="folder-scan" data-testid="index" data-state="running">
        <span>
          Indexing…{" "}
          {p && p.filesTotal > 0 ? `${p.filesDone.toLocaleString("en-US")} of ${formatCount(p.filesTotal, "file", "files")} · ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}${p.etaSeconds !== null ? ` · ${formatDuration(p.etaSeconds)} left` : ""}` : ""}
        </span>
        <button type="button" onClick={onPause}>
          Pause
        </button>
      </div>
    );
  }
  if (run?.state === "paused") {
    return (
      <div className="folder-scan" data-testid="index" data-state="paused">
        <span className="muted">Paused{counts && ` · ${counts} so far`}</span>
        <button type="button" onClick={onResume}>
          Resume
        </button>
      </div>
    );
  }
  if (run?.state === "failed") {
    return (
      <div className="folder-scan" data-testid="index" data-state="failed">
        <span className="warning">{run.message}</span>
        <button type="button" onClick={onResume}>
          Try again
        </button>
      </div>
    );
  }
  return (
    <div className="folder-scan" data-testid="index" data-state={run?.state ?? "idle"}>
      <span>{counts}</span>
    </div>
  );
}
