import { describeError, type FitCheck, type ModelRow } from "../../../lib/ipc";
import { startDownload, useDownloads } from "../../../stores/downloads";
import { formatBytes } from "../../../lib/format";
import { api } from "../api";

export function ModelStep({ rows, check, downloads, onChanged, onError }: { rows: ModelRow[] | null; check: FitCheck | null; downloads: ReturnType<typeof useDownloads>; onChanged: () => void; onError: (m: string) => void }) {
  if (rows === null) return <p className="muted">Looking for models…</p>;
  const recommended = rows.find((r) => r.default) ?? null;
  const active = rows.find((r) => r.active) ?? null;
  // Models found on disk (the Hugging Face cache, LM Studio's folders) need no download.
  const onDisk = rows.filter((r) => r.installed !== null);
  const download = recommended ? downloads.get(recommended.repo) : undefined;
  const use = (repo: string) => {
    api.setActiveModel(repo, false).then(onChanged, (e: unknown) => {
      onError(describeError(e));
    });
  };
  return (
    <div>
      {active !== null ? (
        <p className="ok" data-testid="welcome-model-ready">
          {active.name} is on this computer and ready.
        </p>
      ) : (
        <p>Fathom needs the model&apos;s weights on this computer: the only thing it ever downloads.</p>
      )}
      {onDisk.length > 0 && active === null && (
        <ul className="welcome-list">
          {onDisk.map((r) => (
            <li key={r.repo}>
              {r.name} is already on disk ({r.installed ? formatBytes(r.installed.diskBytes) : ""}){" "}
              <button type="button" onClick={() => { use(r.repo); }}>
                Use it
              </button>
            </li>
          ))}
        </ul>
      )}
      {recommended !== null && recommended.installed === null && active === null && (
        <div>
          {download?.state === "running" ? (
            <p data-testid="welcome-download">
              Downloading {recommended.name}…{" "}
              {download.progress !== null && `${formatBytes(download.progress.doneBytes)} of ${formatBytes(download.progress.totalBytes)}`}
              {" "}It goes on if you continue; the Models page shows it.
            </p>
          ) : (
            <button type="button" className="primary" data-testid="welcome-download-start" onClick={() => { startDownload(recommended.repo, onChanged); }}>
              Download {recommended.name}
              {check !== null && check.downloadBytes > 0 && ` (${formatBytes(check.downloadBytes)})`}
            </button>
          )}
          {download?.state === "failed" && <p className="warning">{download.message}</p>}
          {check?.fit.verdict === "doesNotFit" && <p className="muted">It will not run on this computer: you may skip this step and search your documents without it, or run it on a server later (Settings → Where the model runs).</p>}
        </div>
      )}
    </div>
  );
}
