import { type PullProgress } from "../../../lib/ipc";
import { formatBytes, formatDuration } from "../../../lib/format";

export function ProgressView({ progress }: { progress: PullProgress | null }) {
  if (progress === null) return <div className="muted">Starting…</div>;
  const pct = progress.totalBytes > 0 ? (100 * progress.doneBytes) / progress.totalBytes : 0;
  const retrying = progress.files.find((f) => f.note !== null);
  return (
    <div className="download" data-testid="progress">
      <progress max={progress.totalBytes} value={progress.doneBytes} aria-label="Download progress" />
      <span>
        {formatBytes(progress.doneBytes)} of {formatBytes(progress.totalBytes)} ({pct.toFixed(0)}%)
        {(progress.bytesPerSecond ?? 0) > 0 && <> · {formatBytes(progress.bytesPerSecond ?? 0)}/s</>}
        {progress.etaSeconds !== null && <> · {formatDuration(progress.etaSeconds)} left</>}
      </span>
      {retrying?.note != null && <span className="warning"> · {retrying.note}</span>}
      <details>
        <summary>Files</summary>
        <ul className="files">
          {progress.files.map((f) => (
            <li key={f.path}>
              {f.path}: {formatBytes(f.done)} of {formatBytes(f.size)} {f.state === "done" ? "✓" : ""}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
