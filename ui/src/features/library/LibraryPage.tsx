import { useCallback, useEffect, useState } from "react";
import { Detail } from "../../components/Detail";
import { commands, describeError, events, type AddReport, type Folder, type FolderStatus } from "../../lib/ipc";
import { useSemanticStatus } from "../../stores/semantic";
import { baseName, describeRejection, describeSemantic, formatBytes, formatCount, formatDuration } from "../../lib/format";
import { forgetIndexing, pauseIndexing, startIndexing, useIndexing, type Indexing } from "../../stores/indexing";

interface Props {
  folders: Folder[] | null;
  onPick: () => void;
  report: AddReport | null;
  onChanged: () => Promise<void>;
  onDismissReport: () => void;
  onError: (message: string) => void;
}

export function LibraryPage({ folders, report, onPick, onChanged, onDismissReport, onError }: Props) {
  const [statuses, setStatuses] = useState<FolderStatus[]>([]);
  const refreshStatus = useCallback(() => {
    commands.libraryStatus().then(setStatuses, (e: unknown) => {
      onError(describeError(e));
    });
  }, [onError]);
  useEffect(() => {
    refreshStatus();
  }, [refreshStatus, folders]);
  // The app refreshes changed folders in the background (file watching); show the new counts.
  useEffect(() => {
    const unlisten = events.libraryUpdated.listen(() => {
      refreshStatus();
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, [refreshStatus]);
  return (
    <section className="library">
      <div className="dropzone" data-testid="dropzone">
        <strong>Drop folders here</strong> (or anywhere in this window) to add them to your library, or{" "}
        <button type="button" onClick={onPick}>
          Choose folders…
        </button>
      </div>
      {report !== null && <ReportView report={report} onDismiss={onDismissReport} />}
      {folders !== null && folders.length > 0 && <SemanticLine onError={onError} />}
      {folders === null ? (
        <p className="muted">Loading…</p>
      ) : folders.length === 0 ? (
        <p className="muted" data-testid="library-empty">
          Your library is empty.
        </p>
      ) : (
        <ul className="folders" data-testid="folders">
          {folders.map((f) => (
            <FolderRow key={f.id} folder={f} status={statuses.find((s) => s.folder === f.id)} onRemoved={onChanged} onError={onError} onIndexed={refreshStatus} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ReportView({ report, onDismiss }: { report: AddReport; onDismiss: () => void }) {
  return (
    <div className="report" role="status" data-testid="add-report">
      {report.added.length > 0 && <p>Added {formatCount(report.added.length, "folder", "folders")}: {report.added.map((f) => baseName(f.path)).join(", ")}.</p>}
      {report.absorbed.length > 0 && <p>Now covered by a folder you added: {report.absorbed.map((f) => baseName(f.path)).join(", ")}.</p>}
      {report.rejected.map((r) => (
        <p key={r.path} className="warning" data-testid="rejection">
          {describeRejection(r)}
        </p>
      ))}
      <button type="button" className="link" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

function FolderRow({ folder, status, onRemoved, onError, onIndexed }: { folder: Folder; status: FolderStatus | undefined; onRemoved: () => Promise<void>; onError: (m: string) => void; onIndexed: () => void }) {
  const runs = useIndexing();
  const run = runs.get(folder.id);

  // Every folder is brought up to date when the library is shown (only changed files are redone).
  useEffect(() => {
    if (runs.get(folder.id) === undefined) startIndexing(folder.id, onIndexed);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per folder, not on every progress event
  }, [folder.id]);

  const remove = async () => {
    try {
      await pauseIndexing(folder.id);
      await commands.removeFolder(folder.id);
      forgetIndexing(folder.id);
      await onRemoved();
    } catch (e) {
      onError(describeError(e));
    }
  };

  return (
    <li className="folder" data-testid="folder" data-path={folder.path}>
      <div className="folder-main">
        <div className="folder-name">{baseName(folder.path)}</div>
        <div className="folder-path muted">{folder.path}</div>
        {status && <Problems status={status} />}
      </div>
      <FolderIndex run={run} status={status} onResume={() => { startIndexing(folder.id, onIndexed); }} onPause={() => void pauseIndexing(folder.id)} />
      <button type="button" className="remove" onClick={() => void remove()} aria-label={`Remove ${baseName(folder.path)} from the library`}>
        Remove
      </button>
    </li>
  );
}

function Problems({ status }: { status: FolderStatus }) {
  if (status.failed.length === 0 && status.needsOcr.length === 0) return null;
  return (
    <details className="problems" data-testid="problems">
      <summary className="warning">
        {status.failed.length > 0 && `${formatCount(status.failed.length, "file", "files")} could not be read`}
        {status.failed.length > 0 && status.needsOcr.length > 0 && " · "}
        {status.needsOcr.length > 0 && `${formatCount(status.needsOcr.length, "file has", "files have")} pages without text`}
      </summary>
      <ul>
        {[...status.failed, ...status.needsOcr].map((p) => (
          <li key={p.path}>
            {baseName(p.path)}: {p.reason}
          </li>
        ))}
      </ul>
    </details>
  );
}

/** The folder's index: progress while indexing, counts when done. */
function FolderIndex({ run, status, onPause, onResume }: { run: Indexing | undefined; status: FolderStatus | undefined; onPause: () => void; onResume: () => void }) {
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

/** Semantic search: its model's download and the background pass that reads passages for meaning. */
function SemanticLine({ onError }: { onError: (m: string) => void }) {
  const [status, refresh] = useSemanticStatus(onError);
  if (status === null) return null;
  const { text, tone, done, detail } = describeSemantic(status);
  const act = (p: Promise<unknown>) => {
    p.then(refresh, (e: unknown) => {
      onError(describeError(e));
    });
  };
  const pausable = status.embedder.state === "ready" && (status.pass === "embedding" || status.pausedByUser);
  return (
    <div className="semantic" data-testid="semantic" data-state={status.embedder.state} data-pass={status.pass}>
      <span className={tone === "muted" ? "muted" : tone}>{text}</span>
      <Detail text={detail} />
      {done !== null && <progress max={1} value={done} aria-label="Semantic search progress" />}
      {pausable && (
        <button type="button" onClick={() => { act(commands.pauseSemantic(!status.pausedByUser)); }}>
          {status.pausedByUser ? "Resume" : "Pause"}
        </button>
      )}
      {(status.embedder.state === "failed" || status.pass === "failed") && (
        <button type="button" onClick={() => { act(commands.retrySemantic()); }}>
          Try again
        </button>
      )}
      {status.failed.length > 0 && (
        <details className="problems">
          <summary className="warning">Details</summary>
          <ul>
            {status.failed.map((p) => (
              <li key={p.path}>
                {baseName(p.path)}: {p.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
