// Library → where the library lives (this computer, a Chroma server beside it, or a Chroma server
// alone) and how big it is there; beside a copy here, how far the copy is and a button to copy
// what changed now.
import { useCallback, useEffect, useState } from "react";
import { describeError, events, type LibraryLocation as Location, type SyncProgress } from "../../../lib/ipc";
import { formatBytes, formatCount } from "../../../lib/format";
import { api } from "../api";

export function LibraryLocation({ onError }: { onError: (message: string) => void }) {
  const [location, setLocation] = useState<Location | null>(null);
  const [copying, setCopying] = useState<SyncProgress | null>(null);
  const refresh = useCallback(() => {
    api.libraryLocation().then(setLocation, (e: unknown) => {
      onError(describeError(e));
    });
  }, [onError]);
  useEffect(() => {
    refresh();
    const unlisten = events.libraryUpdated.listen(() => {
      refresh();
    });
    return () => {
      void unlisten.then((f) => {
        f();
      });
    };
  }, [refresh]);

  const copyNow = async () => {
    setCopying({ chunksDone: 0, chunksTotal: 0 });
    try {
      await api.syncLibraryServer(setCopying).result;
    } catch (e) {
      onError(describeError(e));
    } finally {
      setCopying(null);
      refresh();
    }
  };

  if (location === null) return null;
  const here = `${formatBytes(location.bytesHere)} on this computer · ${formatCount(location.chunksHere, "passage", "passages")}`;
  if (location.place === "computer")
    return (
      <p className="muted" data-testid="library-location" title={location.indexDir}>
        Stored on this computer: {here}.
      </p>
    );
  const count = location.chunksOnServer !== null ? formatCount(location.chunksOnServer, "passage", "passages") + " there" : "the server does not answer";
  if (location.place === "chromaOnly")
    return (
      <div className="library-location" data-testid="library-location">
        <p>
          Stored on the Chroma server <strong data-testid="library-server-url">{location.serverUrl}</strong> alone (collection {location.collection}): {count}
          {location.documentsOnServer !== null && <span data-testid="library-documents-on-server">, {formatCount(location.documentsOnServer, "document", "documents")} of this library</span>}. Files are read and embedded here and written straight there.
        </p>
        {location.serverError !== null && (
          <p className="warning" role="alert" data-testid="library-server-error">
            {location.serverError}
          </p>
        )}
      </div>
    );
  const last = location.lastCopy;
  return (
    <div className="library-location" data-testid="library-location">
      <p>
        Stored on the Chroma server <strong data-testid="library-server-url">{location.serverUrl}</strong> (collection {location.collection}):{" "}
        {count}; read and embedded here ({here}).
      </p>
      {location.serverError !== null && (
        <p className="warning" role="alert" data-testid="library-server-error">
          {location.serverError}
        </p>
      )}
      {last?.error != null && location.serverError === null && (
        <p className="warning" data-testid="library-copy-error">
          The last copy stopped: {last.error} It goes on from there next time.
        </p>
      )}
      {last?.report != null && last.report.documentsWaiting > 0 && (
        <p className="muted">{formatCount(last.report.documentsWaiting, "document waits", "documents wait")} for its vectors before it is copied.</p>
      )}
      <div className="row">
        <button type="button" data-testid="library-copy" disabled={copying !== null} onClick={() => void copyNow()}>
          {copying === null ? "Copy changes now" : `Copying… ${copying.chunksDone} of ${copying.chunksTotal} passages`}
        </button>
      </div>
    </div>
  );
}
