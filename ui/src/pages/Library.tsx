import { useEffect, useRef, useState } from "react";
import { commands, describeError, isCommandError, streams, type AddReport, type Folder, type ScanProgress, type Stream } from "../ipc";
import { baseName, describeRejection, formatBytes, formatCount } from "../format";

interface Props {
  folders: Folder[] | null;
  report: AddReport | null;
  onChanged: () => Promise<void>;
  onDismissReport: () => void;
  onError: (message: string) => void;
}

export function LibraryPage({ folders, report, onChanged, onDismissReport, onError }: Props) {
  return (
    <section className="library">
      <div className="dropzone" data-testid="dropzone">
        <strong>Drop folders here</strong> (or anywhere in this window) to add them to your library.
      </div>
      {report !== null && <ReportView report={report} onDismiss={onDismissReport} />}
      {folders === null ? (
        <p className="muted">Loading…</p>
      ) : folders.length === 0 ? (
        <p className="muted" data-testid="library-empty">
          Your library is empty.
        </p>
      ) : (
        <ul className="folders" data-testid="folders">
          {folders.map((f) => (
            <FolderRow key={f.id} folder={f} onRemoved={onChanged} onError={onError} />
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

type ScanState = { state: "counting"; progress: ScanProgress | null } | { state: "done"; progress: ScanProgress } | { state: "stopped" } | { state: "failed"; message: string };

function FolderRow({ folder, onRemoved, onError }: { folder: Folder; onRemoved: () => Promise<void>; onError: (m: string) => void }) {
  // A new key starts a fresh count.
  const [attempt, setAttempt] = useState(0);

  const remove = async () => {
    try {
      await commands.removeFolder(folder.id);
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
      </div>
      <FolderCount
        key={attempt}
        folderId={folder.id}
        onRetry={() => {
          setAttempt((n) => n + 1);
        }}
      />
      <button type="button" className="remove" onClick={() => void remove()} aria-label={`Remove ${baseName(folder.path)} from the library`}>
        Remove
      </button>
    </li>
  );
}

/** Streams the folder's file count; Stop cancels the stream. */
function FolderCount({ folderId, onRetry }: { folderId: string; onRetry: () => void }) {
  const [scan, setScan] = useState<ScanState>({ state: "counting", progress: null });
  const running = useRef<Stream<ScanProgress> | null>(null);

  useEffect(() => {
    const s = streams.scanFolder(folderId, (progress) => {
      setScan({ state: "counting", progress });
    });
    running.current = s;
    let live = true;
    s.result.then(
      (progress) => {
        if (live) setScan({ state: "done", progress });
      },
      (e: unknown) => {
        if (!live) return;
        setScan(isCommandError(e) && e.kind === "cancelled" ? { state: "stopped" } : { state: "failed", message: describeError(e) });
      },
    );
    return () => {
      live = false;
      void s.cancel();
    };
  }, [folderId]);

  return (
    <div className="folder-scan" data-testid="scan" data-state={scan.state}>
      {scan.state === "counting" && (
        <>
          <span>Counting… {scan.progress ? `${formatCount(scan.progress.files, "file", "files")}, ${formatBytes(scan.progress.bytes)}` : ""}</span>
          <button type="button" onClick={() => void running.current?.cancel()}>
            Stop
          </button>
        </>
      )}
      {scan.state === "done" && (
        <span>
          {formatCount(scan.progress.files, "file", "files")}, {formatBytes(scan.progress.bytes)}
          {scan.progress.unreadable > 0 && <span className="warning"> · {formatCount(scan.progress.unreadable, "item", "items")} unreadable</span>}
        </span>
      )}
      {scan.state === "stopped" && (
        <>
          <span className="muted">Count stopped.</span>
          <button type="button" onClick={onRetry}>
            Count again
          </button>
        </>
      )}
      {scan.state === "failed" && <span className="warning">{scan.message}</span>}
    </div>
  );
}
