import { useCallback, useEffect, useState } from "react";
import { describeError, events, type AddReport, type Folder, type FolderStatus } from "../../lib/ipc";
import { ReportView } from "./components/ReportView";
import { FolderRow } from "./components/FolderRow";
import { SemanticLine } from "./components/SemanticLine";
import { LibraryLocation } from "./components/LibraryLocation";
import { api } from "./api";

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
    api.libraryStatus().then(setStatuses, (e: unknown) => {
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
      {folders !== null && folders.length > 0 && <LibraryLocation onError={onError} />}
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

